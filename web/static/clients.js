// The client forms: the duplicate check while the user types, and confirmations.
// The forms work without this file (the server checks duplicates on save as well).
// User data is only ever put into the page with textContent, never as HTML.
"use strict";

(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const S = boot.strings;
  const DELAY_MS = 400;

  // -- confirmations (delete equipment) -----------------------------------------------

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form.confirm");
    if (form && !window.confirm(form.dataset.confirm || "?")) event.preventDefault();
  });

  // -- duplicates, shown before saving -------------------------------------------------

  const form = document.getElementById("client-form");
  const box = document.getElementById("duplicates");
  if (!form || !box) return;
  const excludeId = form.dataset.excludeId ? Number(form.dataset.excludeId) : null;
  let timer = null;
  let lastKey = null;
  let pending = null;

  function value(name) {
    const input = form.elements.namedItem(name);
    return input && "value" in input ? input.value.trim() : "";
  }

  function lines(...names) {
    return names.flatMap((n) => value(n).split(/[\n;]+/)).map((s) => s.trim()).filter(Boolean);
  }

  function draft() {
    const body = {
      name: value("company_name") || value("name"),
      inn: value("inn").replace(/\s/g, ""),
      // Only numbers that look complete: a half-typed one is not a duplicate yet.
      phones: lines("phone", "phones", "contact_phone")
        .filter((p) => p.replace(/\D/g, "").length >= 10),
      emails: lines("email", "emails").filter((e) => /^[^@\s]+@[^@\s]+\.[^@\s]{2,}$/.test(e)),
    };
    if (!/^\d{10}(\d{2})?$/.test(body.inn)) body.inn = "";
    if (body.name.length < 3) body.name = "";
    if (excludeId !== null) body.exclude_id = excludeId;
    return body;
  }

  function reasonText(reason) {
    return S["dup_" + reason] || reason;
  }

  function render(candidates) {
    const list = box.querySelector(".dup-list");
    list.replaceChildren();
    for (const c of candidates) {
      const item = document.createElement("li");
      if (c.visible) {
        const link = document.createElement("a");
        link.href = "/clients/" + encodeURIComponent(c.company_id);
        link.target = "_blank";
        link.textContent = c.name;
        item.append(link);
      } else {
        const name = document.createElement("strong");
        name.textContent = c.name;
        const note = document.createElement("span");
        note.className = "muted";
        note.textContent = ` (${S.dup_hidden})`;
        item.append(name, note);
      }
      if (c.inn) {
        const inn = document.createElement("span");
        inn.className = "muted";
        inn.textContent = ` ${S.inn} ${c.inn}`;
        item.append(inn);
      }
      item.append(" — ");
      for (const reason of c.reasons || []) {
        const badge = document.createElement("span");
        badge.className = "badge dup-reason";
        badge.textContent = reasonText(reason);
        item.append(badge, " ");
      }
      list.append(item);
    }
    box.hidden = candidates.length === 0;
  }

  async function check() {
    const body = draft();
    if (!body.name && !body.inn && !body.phones.length && !body.emails.length) {
      render([]);
      return;
    }
    const key = JSON.stringify(body);
    if (key === lastKey) return;
    lastKey = key;
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const response = await fetch("/api/clients/duplicates", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": boot.csrf },
        body: key,
        credentials: "same-origin",
        signal: pending.signal,
      });
      if (!response.ok) {
        lastKey = null; // e.g. a phone that does not parse yet: try again on the next key
        return;
      }
      const data = await response.json();
      render(data.duplicates || []);
      form.dataset.duplicates = String((data.duplicates || []).length);
    } catch (error) {
      if (error.name !== "AbortError") lastKey = null;
    }
  }

  form.addEventListener("input", (event) => {
    if (!event.target.closest("[data-field]")) return;
    const field = event.target.closest("[data-field]");
    // Typing in a field clears its error message: it is being fixed.
    field.classList.remove("has-error");
    const error = field.querySelector(".field-error");
    if (error) error.textContent = "";
    if (!["company_name", "name", "inn", "phone", "phones", "contact_phone", "email", "emails"]
      .includes(field.dataset.field)) return;
    clearTimeout(timer);
    timer = setTimeout(check, DELAY_MS);
  });

  // A form opened from the screen-pop already has the caller's number: check it now.
  // (Not after a refused save: the server has listed the candidates already.)
  if (box.hidden && excludeId === null) check();
})();
