// The panel's behaviour: click-to-call buttons, the screen-pop and live updates.
// Plain JavaScript, no build step, nothing loaded from outside this server.
// User data is only ever put into the page with textContent, never as HTML.
"use strict";

(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const S = boot.strings;
  const zone = boot.zone || "Europe/Moscow"; // the office's zone, from settings
  let lastSeq = Number(sessionStorage.getItem("cc_seq") || 0) || null;
  let socket = null;
  let retryDelay = 1000;
  const pops = new Map(); // leg id -> element

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else if (key === "href") node.setAttribute("href", value);
      else node[key] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function formatPhone(e164) {
    const d = String(e164 || "").replace(/\D/g, "");
    if (d.length === 11 && d[0] === "7") {
      return `+7 (${d.slice(1, 4)}) ${d.slice(4, 7)}-${d.slice(7, 9)}-${d.slice(9, 11)}`;
    }
    return d ? "+" + d : "";
  }

  function formatTime(iso) {
    // 04.12.2026 17:05:09, in the office's zone, as the server-rendered pages write it.
    if (!iso) return "";
    const parts = {};
    const format = new Intl.DateTimeFormat("ru-RU", {
      timeZone: zone, day: "2-digit", month: "2-digit", year: "numeric",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
    });
    for (const part of format.formatToParts(new Date(iso))) parts[part.type] = part.value;
    return `${parts.day}.${parts.month}.${parts.year} ${parts.hour}:${parts.minute}:${parts.second}`;
  }

  function errorText(data, fallback) {
    const error = (data && data.error) || {};
    if (error.code === "invalid_input" && error.message) {
      return error.message.includes(": ") ? error.message.split(": ").slice(1).join(": ") : error.message;
    }
    return S["err_" + error.code] || error.message || fallback;
  }

  // -- toasts -------------------------------------------------------------------

  function toast(text, kind, key) {
    const box = document.getElementById("toasts");
    let node = key ? box.querySelector(`[data-key="${CSS.escape(key)}"]`) : null;
    if (!node) {
      node = el("div", { class: "toast", "data-key": key || null });
      box.append(node);
    }
    node.className = "toast " + (kind || "info");
    node.textContent = text;
    clearTimeout(node._timer);
    node._timer = setTimeout(() => node.remove(), kind === "error" ? 12000 : 8000);
  }

  function failureText(call) {
    const stage = call.failure_stage || "client";
    return S[`fail_${stage}_${call.outcome}`] || S[`out_${call.outcome}`] || call.outcome;
  }

  // -- click-to-call --------------------------------------------------------------

  async function placeCall(button) {
    const body = { number: button.dataset.number };
    if (button.dataset.company) body.company_id = Number(button.dataset.company);
    if (button.dataset.contact) body.contact_id = Number(button.dataset.contact);
    button.disabled = true;
    try {
      const response = await fetch("/api/calls", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      const data = await response.json().catch(() => ({}));
      if (response.ok) {
        toast(`${S.c2c_queued} ${formatPhone(data.number)}`, "info", "c2c-" + data.id);
      } else {
        toast(errorText(data, response.statusText), "error");
      }
    } catch (error) {
      toast(String(error), "error");
    } finally {
      setTimeout(() => { button.disabled = false; }, 1500);
    }
  }

  async function listen(button) {
    button.disabled = true;
    const response = await fetch(`/api/calls/${encodeURIComponent(button.dataset.call)}/listen`, {
      method: "POST",
      headers: { "X-CSRF-Token": boot.csrf },
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (response.ok) toast(S.listen_requested, "info");
    else toast(errorText(data, response.statusText), "error");
    setTimeout(() => { button.disabled = false; }, 1500);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".call-btn");
    if (button) {
      event.preventDefault();
      placeCall(button);
      return;
    }
    const listenButton = event.target.closest(".listen-btn");
    if (listenButton) {
      event.preventDefault();
      listen(listenButton);
    }
  });

  // -- screen-pop -------------------------------------------------------------------

  function showPop(message) {
    const leg = message.leg;
    const call = message.call;
    if (!leg || pops.has(leg.id)) return;
    const card = message.card || { known: false, number: call.number };
    const number = card.number_display || formatPhone(call.number) || "—";

    const body = el("div", { class: "pop-body" });
    if (card.known) {
      if (card.company && card.company.url) {
        body.append(el("a", { class: "pop-company", href: card.company.url }, card.company.name));
      } else if (card.company) {
        body.append(el("div", { class: "pop-company" }, card.company.name));
      }
      if (card.contact) {
        // A private client (no company) opens from the person's name.
        const name = card.contact.url && !card.company
          ? el("a", { href: card.contact.url }, card.contact.name) : card.contact.name;
        body.append(el("div", { class: "pop-contact" }, name,
          card.contact.position ? ` · ${card.contact.position}` : ""));
      }
      body.append(el("div", { class: "pop-number" }, number));
      if (card.interactions && card.interactions.length) {
        const list = el("ul", { class: "pop-history" });
        for (const item of card.interactions) {
          list.append(el("li", {}, formatTime(item.occurred_at), " — ", item.summary));
        }
        body.append(el("div", { class: "muted" }, S.last_interactions), list);
      }
      if (card.responsible) {
        body.append(el("div", { class: "pop-responsible muted" },
          `${S.responsible}: ${card.responsible}`));
      }
      if (card.company && card.company.url) {
        body.append(el("a", { class: "button", href: card.company.url }, S.open_card));
      }
    } else {
      body.append(el("div", { class: "pop-unknown" }, S.unknown_number));
      body.append(el("div", { class: "pop-number" }, number));
      if (call.client_name) body.append(el("div", { class: "pop-contact" }, call.client_name));
      if (call.number) {
        body.append(el("a", {
          class: "button create-client",
          href: "/clients/new?phone=" + encodeURIComponent(call.number),
        }, S.create_client));
      }
    }
    const close = el("button", { class: "pop-close", type: "button", title: S.pop_close }, "×");
    const pop = el("section", { class: "pop ringing", "data-leg": leg.id, "data-call": call.id },
      el("header", {}, el("span", { class: "pop-title" }, S.incoming_call), close),
      el("div", { class: "pop-state" }, call.queue ? `${S.queue}: ${call.queue}` : ""),
      body);
    close.addEventListener("click", () => dropPop(leg.id, 0));
    document.getElementById("pops").append(pop);
    pops.set(leg.id, pop);
  }

  function dropPop(legId, delay, text) {
    const pop = pops.get(legId);
    if (!pop) return;
    if (text) {
      pop.querySelector(".pop-state").textContent = text;
      pop.classList.remove("ringing");
      pop.classList.add("closing");
    }
    pops.delete(legId);
    setTimeout(() => pop.remove(), delay);
  }

  // -- live calls table (supervisors) ------------------------------------------------

  function renderLive(calls) {
    const table = document.getElementById("live-calls");
    if (!table) return;
    const names = JSON.parse(table.dataset.userNames || "{}");
    const tbody = table.querySelector("tbody");
    tbody.replaceChildren();
    if (!calls.length) {
      tbody.append(el("tr", { class: "empty" }, el("td", { colSpan: 6, class: "muted" }, S.no_live_calls)));
    }
    for (const call of calls) {
      tbody.append(el("tr", { "data-call-id": call.id },
        el("td", {}, formatTime(call.started_at)),
        el("td", {}, S["dir_" + call.direction] || call.direction),
        el("td", {}, call.number_display || ""),
        el("td", {}, `${names[call.manager_id] || ""} ${call.manager_extension || ""}`),
        el("td", {}, S["st_" + call.status] || call.status),
        el("td", {}, call.status === "active" && call.direction !== "listen"
          ? el("button", { type: "button", class: "listen-btn", "data-call": call.id }, S.listen)
          : "")));
    }
  }

  const live = new Map();
  function trackLive(call) {
    if (!document.getElementById("live-calls")) return;
    if (call.status === "ended") live.delete(call.id);
    else live.set(call.id, call);
    renderLive([...live.values()]);
  }

  // -- websocket ----------------------------------------------------------------------

  function handle(message) {
    if (message.seq) {
      lastSeq = message.seq;
      sessionStorage.setItem("cc_seq", String(lastSeq));
    }
    if (message.type === "hello") {
      if (message.snapshot) {
        for (const item of message.snapshot) {
          if (item.type === "live") {
            live.clear();
            for (const call of item.calls) live.set(call.id, call);
            renderLive(item.calls);
          } else {
            handle(item);
          }
        }
      }
      lastSeq = message.seq;
      sessionStorage.setItem("cc_seq", String(lastSeq));
      return;
    }
    if (message.type !== "call") return;
    const call = message.call;
    const mine = message.leg && message.leg.user_id === boot.user_id;
    const requested = call.direction === "originated" && call.manager_id === boot.user_id;
    trackLive(call);

    switch (message.op) {
      case "ringing":
        if (mine) showPop(message);
        break;
      case "answered":
        if (mine && pops.has(message.leg.id)) {
          const pop = pops.get(message.leg.id);
          pop.classList.remove("ringing");
          pop.classList.add("talking");
          pop.querySelector(".pop-state").textContent = S.pop_in_call;
        }
        break;
      case "closed":
        if (mine) {
          const reason = message.reason;
          if (reason === "answered_elsewhere") dropPop(message.leg.id, 3000, S.pop_answered_elsewhere);
          else if (reason === "missed" || reason === "stopped_ringing") dropPop(message.leg.id, 6000, S.pop_missed);
          else dropPop(message.leg.id, 4000, S.c2c_ended);
        }
        break;
      case "originate":
        if (requested && message.stage !== "failed") {
          toast(S["c2c_" + message.stage], "info", "c2c-" + call.id);
        }
        break;
      case "connected":
        if (requested) toast(`${S.c2c_connected} ${formatPhone(call.number)}`, "ok", "c2c-" + call.id);
        break;
      case "ended":
        if (requested) {
          if (call.outcome === "answered") toast(S.c2c_ended, "info", "c2c-" + call.id);
          else toast(`${failureText(call)} — ${formatPhone(call.number)}`, "error", "c2c-" + call.id);
        }
        break;
      default:
        break;
    }
    document.dispatchEvent(new CustomEvent("cc:event", { detail: message }));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = lastSeq !== null ? `?since=${lastSeq}` : "";
    socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    socket.addEventListener("open", () => {
      retryDelay = 1000;
      document.body.dataset.ws = "open";
    });
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      document.body.dataset.ws = "closed";
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }

  // -- PBX link indicator -------------------------------------------------------------

  async function refreshHealth() {
    try {
      const response = await fetch("/api/health", { credentials: "same-origin" });
      const health = await response.json();
      const badge = document.getElementById("pbx-status");
      if (badge) {
        badge.className = "pbx " + (health.pbx_connected ? "on" : "off");
        badge.textContent = health.pbx_connected ? S.pbx_online : S.pbx_offline;
      }
    } catch (error) {
      /* the next poll tries again */
    }
  }

  connect();
  setInterval(refreshHealth, 15000);
})();
