// The hosted form page with script: answers go to the public submission route as JSON, with the
// page's idempotency key, so a double click stores one submission. Without script the browser
// posts the form to the page itself, and the server draws the same outcomes.
(() => {
  "use strict";
  const form = document.getElementById("pliers-form");
  if (!form) return;
  const schema = JSON.parse(document.getElementById("pliers-schema").textContent);
  const thanks = document.getElementById("form-thanks");
  const problemsBox = document.getElementById("form-problems");
  const button = form.querySelector('button[type="submit"]');
  const key = form.elements["pliers.key"].value;
  const NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
  const INTEGER = /^[+-]?[0-9]+$/;
  const LOCAL_DATETIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?$/;

  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const note of document.querySelectorAll("[data-tz-note]")) {
    note.textContent = `Date and time in your time zone${zone ? ` (${zone})` : ""}.`;
  }

  function answer(field, values) {
    if (field.kind === "boolean" && field.type === "checkbox") return values.length > 0;
    if (values.length === 0) return undefined;
    const option = (text) => (Object.hasOwn(field.options, text) ? field.options[text] : text);
    if (field.kind === "options") return values.map(option);
    const text = values[0];
    switch (field.kind) {
      case "option":
        return option(text);
      case "boolean":
        return text === "true" ? true : text === "false" ? false : text;
      case "number": {
        const n = Number(text);
        return NUMBER.test(text) && Number.isFinite(n) ? n : text;
      }
      case "integer": {
        const n = Number(text);
        return INTEGER.test(text) && Number.isSafeInteger(n) ? n : text;
      }
      case "datetime": {
        // a datetime-local value is the person's own clock; the server wants an offset
        const when = new Date(text);
        return LOCAL_DATETIME.test(text) && !Number.isNaN(when.getTime()) ? when.toISOString() : text;
      }
      default:
        return text;
    }
  }

  function collect() {
    const posted = new FormData(form);
    const data = {};
    for (const field of schema) {
      const value = answer(field, posted.getAll(field.name).filter((v) => v !== ""));
      if (value !== undefined) data[field.name] = value;
    }
    return data;
  }

  function describe(name, invalid) {
    const control = document.getElementById(`f-${name}`);
    if (!control) return;
    const ids = [`help-${name}`, `note-${name}`, `err-${name}`].filter(
      (id) => document.getElementById(id) && (invalid || !id.startsWith("err-")),
    );
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
    if (invalid) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
    control.closest(".field").classList.toggle("has-error", invalid);
  }

  function clearErrors() {
    for (const field of schema) {
      const error = document.getElementById(`err-${field.name}`);
      if (error) {
        error.textContent = "";
        error.hidden = true;
      }
      describe(field.name, false);
    }
    problemsBox.replaceChildren();
    problemsBox.hidden = true;
  }

  function showProblems(messages) {
    const title = document.createElement("h2");
    title.textContent = "Your answers could not be sent";
    const list = document.createElement("ul");
    for (const message of messages) {
      const item = document.createElement("li");
      item.textContent = message;
      list.append(item);
    }
    problemsBox.replaceChildren(title, list);
    problemsBox.hidden = false;
  }

  function focusControl(control) {
    const target = control.tagName === "FIELDSET" ? control.querySelector("input") : control;
    (target || control).focus();
  }

  function showErrors(status, body, retryAfter) {
    clearErrors();
    const names = new Set(schema.map((f) => f.name));
    const general = [];
    const byField = new Map();
    const error = (body && body.error) || {};
    if (status === 400 && Array.isArray(error.details)) {
      for (const d of error.details) {
        if (names.has(d.field)) byField.set(d.field, [...(byField.get(d.field) || []), d.message]);
        else general.push(d.message);
      }
    } else if (status === 429) {
      general.push(
        `Too many answers were sent from your address; try again${retryAfter ? ` in ${retryAfter} seconds` : " later"}.`,
      );
    } else {
      general.push(error.message || `The answers could not be sent (HTTP ${status}).`);
    }
    if (byField.size) {
      const n = byField.size;
      general.unshift(`${n} answer${n > 1 ? "s need" : " needs"} a change; see below.`);
    }
    let first = null;
    for (const field of schema) {
      const messages = byField.get(field.name);
      if (!messages) continue;
      const box = document.getElementById(`err-${field.name}`);
      box.textContent = messages.join(" ");
      box.hidden = false;
      describe(field.name, true);
      first = first || document.getElementById(`f-${field.name}`);
    }
    showProblems(general);
    if (first) focusControl(first);
    else problemsBox.focus();
  }

  function showThanks() {
    form.hidden = true;
    thanks.hidden = false;
    thanks.focus();
    window.scrollTo(0, 0);
  }

  let sending = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return; // the same key would make a second request harmless; this saves it
    sending = true;
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(form.dataset.submitUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ data: collect() }),
        credentials: "omit",
      });
      if (response.ok) {
        showThanks();
        return;
      }
      const body = await response.json().catch(() => null);
      const code = body && body.error && body.error.code;
      if (code === "NOT_FOUND" || code === "METHOD_NOT_ALLOWED") {
        // no public route here (a proxy may expose the pages alone): post the page itself
        form.submit();
        return;
      }
      showErrors(response.status, body, response.headers.get("retry-after"));
    } catch {
      clearErrors();
      showProblems(["The answers could not be sent: the network failed. Try again."]);
      problemsBox.focus();
    } finally {
      sending = false;
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  // a page drawn by the server after a post: take the person to what it says
  const invalid = form.querySelector('[aria-invalid="true"]');
  if (invalid) focusControl(invalid);
  else if (!thanks.hidden) thanks.focus();
})();
