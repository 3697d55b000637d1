// The search box: asks /api/search as the user types and shows the groups it answers.
// Plain JavaScript, nothing loaded from elsewhere. User data reaches the page through
// textContent and dataset only, never as HTML. Call buttons carry the same class and
// data attributes as the rest of the panel, so app.js places the calls.
"use strict";

(function () {
  const input = document.getElementById("search-q");
  const box = document.getElementById("search-results");
  const status = document.getElementById("search-status");
  if (!input || !box || !status) return;

  const labels = box.dataset; // data-label-* and data-status-* from the template
  const DEBOUNCE_MS = 200;
  const MIN_CHARS = 2;
  const GROUPS = [
    ["companies", labels.labelCompanies],
    ["contacts", labels.labelContacts],
    ["equipment", labels.labelEquipment],
  ];
  const MATCH_LABELS = {
    inn: labels.labelInn,
    ogrn: labels.labelOgrn,
    phone: labels.labelPhone,
    email: labels.labelEmail,
    name: labels.labelName,
    equipment: labels.labelEquipmentMatch,
    serial: labels.labelSerial,
  };

  let timer = null;
  let pending = null; // AbortController of the request in flight
  let shown = input.value.trim(); // the query the results on the page answer

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null && text !== "") node.textContent = String(text);
    return node;
  }

  function callButton(phone) {
    const button = el("button", "call-btn");
    button.type = "button";
    button.dataset.number = phone.e164;
    if (phone.company_id) button.dataset.company = String(phone.company_id);
    if (phone.contact_id) button.dataset.contact = String(phone.contact_id);
    button.title = labels.labelCall || "";
    button.textContent = "\u260E " + phone.display + (phone.extension ? " доб. " + phone.extension : "");
    return button;
  }

  function nameOf(hit) {
    // Only our own card addresses become links.
    if (typeof hit.url === "string" && /^\/(clients|contacts)\/\d+$/.test(hit.url)) {
      const link = el("a", "name", hit.name);
      link.href = hit.url;
      return link;
    }
    return el("span", "name", hit.name);
  }

  function details(group, hit) {
    const parts = [];
    if (group === "companies") {
      parts.push(hit.inn, hit.region, labels["status" + capital(hit.status)]);
    } else if (group === "contacts") {
      parts.push(hit.position, hit.company_name);
    } else {
      parts.push(hit.vendor, hit.kind, hit.owner);
    }
    return el("span", "muted", parts.filter(Boolean).join(" · "));
  }

  function capital(text) {
    return text ? text[0].toUpperCase() + text.slice(1) : "";
  }

  function hitRow(group, hit) {
    const row = el("div", "search-hit");
    row.dataset.rank = String(hit.rank);
    const badge = el("span", hit.rank === 0 ? "badge match-exact" : "badge",
      `${MATCH_LABELS[hit.match] || hit.match}: ${hit.matched}`);
    const phones = el("span", "phones");
    for (const phone of hit.phones || []) phones.append(callButton(phone));
    row.append(nameOf(hit), badge, details(group, hit), phones);
    return row;
  }

  function bestRank(hits) {
    return hits && hits.length ? Math.min(...hits.map((h) => h.rank)) : 99;
  }

  function render(data) {
    // A group holding an exact INN / phone / e-mail match comes first.
    const groups = GROUPS.slice().sort((a, b) => bestRank(data[a[0]]) - bestRank(data[b[0]]));
    const sections = [];
    for (const [key, title] of groups) {
      const hits = data[key] || [];
      if (!hits.length) continue;
      const section = el("section", "search-group");
      section.dataset.group = key;
      section.append(el("h2", null, title));
      for (const hit of hits) section.append(hitRow(key, hit));
      sections.push(section);
    }
    box.replaceChildren(...sections);
    status.textContent = sections.length
      ? (data.partial ? labels.labelPartial : "")
      : labels.labelNothing;
  }

  async function ask(text) {
    if (pending) pending.abort();
    const controller = new AbortController();
    pending = controller;
    status.textContent = labels.labelSearching;
    try {
      const response = await fetch("/api/search?q=" + encodeURIComponent(text), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      if (response.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent("/search?q=" + text));
        return;
      }
      if (!response.ok) throw new Error(response.statusText);
      const data = await response.json();
      if (controller !== pending) return; // a newer query is on its way
      shown = text;
      render(data);
    } catch (error) {
      if (error.name === "AbortError") return;
      status.textContent = labels.labelFailed;
    } finally {
      if (controller === pending) pending = null;
    }
  }

  function remember(text) {
    const url = text ? "/search?q=" + encodeURIComponent(text) : "/search";
    window.history.replaceState(null, "", url);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const text = input.value.trim();
    timer = setTimeout(() => {
      remember(text);
      if (text.length < MIN_CHARS) {
        if (pending) pending.abort();
        shown = text;
        box.replaceChildren();
        status.textContent = "";
        return;
      }
      if (text !== shown) ask(text);
    }, DEBOUNCE_MS);
  });

  // Enter opens the best hit once the results answer what is typed.
  input.form.addEventListener("submit", (event) => {
    const first = box.querySelector(".search-hit a.name");
    if (first && input.value.trim() === shown) {
      event.preventDefault();
      window.location.assign(first.getAttribute("href"));
    }
  });
})();
