// The console's live view: events from the stream as they commit, newest first. After a lost
// connection it reconnects and resumes after the last position it showed, with the same filter,
// so nothing that committed in between is missed or shown twice.
(() => {
  "use strict";
  const state = document.getElementById("live-state");
  const list = document.getElementById("live-events");
  if (!state || !list) return;
  const KEEP = 200;
  const types = state.dataset.types.split(",").map((t) => t.trim()).filter(Boolean);
  let position = Number(state.dataset.head) || 0;
  let delay = 500;
  let socket = null;

  function say(text) {
    state.textContent = text;
  }

  function show(event) {
    const item = document.createElement("li");
    item.dataset.type = event.type;
    item.dataset.position = String(event.position);
    const title = document.createElement("strong");
    title.textContent = event.type;
    const where = document.createElement("span");
    where.textContent = ` · ${event.aggregateId} · #${event.position} · ${event.recordedAt || event.timestamp}`;
    const payload = document.createElement("code");
    payload.textContent = JSON.stringify(event.payload);
    const body = document.createElement("div");
    body.append(payload);
    item.append(title, where, body);
    list.prepend(item);
    while (list.children.length > KEEP) list.lastElementChild.remove();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}${state.dataset.stream}`);
    socket.addEventListener("open", () => {
      const filter = types.length ? { eventTypes: types } : {};
      socket.send(JSON.stringify({ type: "subscribe", filter, fromPosition: position }));
    });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "subscription_confirmed") {
        delay = 500;
        say(`Connected${types.length ? `, showing ${types.join(", ")}` : ", showing every type"}; waiting for events after #${position}.`);
      } else if (data.type === "event" && data.data.position > position) {
        position = data.data.position;
        show(data.data);
        say(`Connected; last event #${position}.`);
      } else if (data.type === "error") {
        say(`The stream refused the filter: ${data.message}`);
      }
    });
    socket.addEventListener("close", (closed) => {
      if (closed.code === 1008 && closed.reason === "sign in first") {
        say("Signed out: reload the page to sign in again.");
        return;
      }
      say(`Disconnected; reconnecting in ${Math.round(delay / 100) / 10} s…`);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    });
  }

  connect();
})();
