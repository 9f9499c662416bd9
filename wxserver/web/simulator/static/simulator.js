// The simulator's page: sends what the user does to /api/send, and draws the conversation it
// reads from /api/entries (a long poll), where the replies and the late messages arrive alike.
"use strict";

const $ = (id) => document.getElementById(id);
const EVENT_OF_TYPE = {
  click: "CLICK",
  view: "VIEW",
  miniprogram: "view_miniprogram",
  scancode_push: "scancode_push",
  scancode_waitmsg: "scancode_waitmsg",
  pic_sysphoto: "pic_sysphoto",
  pic_photo_or_album: "pic_photo_or_album",
  pic_weixin: "pic_weixin",
  location_select: "location_select",
};
const exchanges = new Map(); // exchange id -> the entry carrying its details
let last = 0;
let epoch = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function link(url, text) {
  if (!/^https?:\/\//i.test(url)) return el("span", "link", text || url);
  const a = el("a", "", text || url);
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

// Text as WeChat shows it: <a href> links kept, plain URLs made links, everything else text.
function richText(node, text) {
  const anchor = /<a\s[^>]*?href=(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a>|(https?:\/\/[^\s<]+)/gi;
  let at = 0;
  for (const match of text.matchAll(anchor)) {
    node.append(text.slice(at, match.index));
    node.append(match[4] ? link(match[4]) : link(match[2], match[3]));
    at = match.index + match[0].length;
  }
  node.append(text.slice(at));
  return node;
}

function card(kind, title, lines) {
  const box = el("div", `bubble card ${kind}`);
  box.append(el("strong", "card-title", title));
  for (const line of lines) if (line) box.append(typeof line === "string" ? el("p", "", line) : line);
  return box;
}

function bubble(b) {
  switch (b.kind) {
    case "text":
      return richText(el("div", "bubble text"), b.text);
    case "event": {
      const box = el("div", "bubble event", b.text);
      if (b.url) box.append(" → ", link(b.url));
      return box;
    }
    case "none":
      return el("div", "bubble none", "no reply");
    case "error": {
      const box = el("div", "bubble error", b.text);
      if (b.detail) box.append(el("small", "", b.detail));
      return box;
    }
    case "menu":
      return el("div", "bubble note", b.text);
    case "image":
    case "voice":
      return card(b.kind, b.kind === "image" ? "Image" : "Voice", [`media_id ${b.media_id}`]);
    case "video":
      return card("video", `Video${b.title ? ": " + b.title : ""}`, [
        b.description, `media_id ${b.media_id}`]);
    case "music":
      return card("music", `♪ ${b.title || "Music"}`, [b.description, b.url && link(b.url)]);
    case "news": {
      const box = el("div", "bubble news");
      for (const a of b.articles) {
        const item = el("article", "article");
        const title = el("h3", "", "");
        title.append(a.url ? link(a.url, a.title) : a.title);
        item.append(title);
        if (a.description) item.append(el("p", "", a.description));
        if (a.pic_url) {
          const img = el("img");
          img.src = a.pic_url;
          img.alt = `picture of “${a.title}”`;
          img.referrerPolicy = "no-referrer";
          img.loading = "lazy";
          item.append(img);
        }
        box.append(item);
      }
      return box;
    }
    case "mpnews":
    case "mpnewsarticle":
      return card(b.kind, "Article", [`${b.kind} ${b.media_id}`]);
    case "wxcard":
      return card("wxcard", "Card", [`card_id ${b.media_id}`]);
    case "miniprogram":
      return card("miniprogram", `Mini program: ${b.title}`, [`${b.appid} ${b.pagepath}`]);
    case "msgmenu": {
      const box = card("msgmenu", b.head, []);
      for (const option of b.options) {
        const button = el("button", "option", option.content);
        button.type = "button";
        button.addEventListener("click", () =>
          send({type: "text", content: option.content, bizmsgmenuid: option.id}));
        box.append(button);
      }
      if (b.tail) box.append(el("p", "", b.tail));
      return box;
    }
    case "template":
      return card("template", "Template message", [
        ...b.fields.map((f) => `${f.name}: ${f.value}`), b.url && link(b.url)]);
    case "transfer":
      return el("div", "bubble none",
        `handed to customer service${b.account ? " (" + b.account + ")" : ""}`);
    default:
      return el("div", "bubble none", `a ${b.msg_type || "?"} message`);
  }
}

function render(entry) {
  const item = el("li", `entry from-${entry.from} via-${entry.via || "none"}`);
  item.dataset.exchange = entry.exchange;
  item.append(bubble(entry.bubble));
  if (entry.openid && entry.openid !== $("openid").value) {
    item.classList.add("other-user");
    item.title = `to ${entry.openid}`;
  }
  if (entry.details) exchanges.set(entry.exchange, entry);
  if (entry.from === "user" || entry.details) {
    item.tabIndex = 0;
    const show = () => showDetails(entry.exchange);
    item.addEventListener("click", show);
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        show();
      }
    });
  }
  const log = $("log");
  log.append(item);
  log.scrollTop = log.scrollHeight;
  if (entry.bubble.kind === "menu") loadState();
}

function fact(list, name, value) {
  if (value === null || value === undefined || value === "") return;
  list.append(el("dt", "", name));
  const dd = el("dd");
  dd.append(typeof value === "string" ? value : String(value));
  list.append(dd);
}

function block(box, title, text) {
  if (!text) return;
  box.append(el("h3", "", title), el("pre", "", text));
}

function showDetails(id) {
  const entry = exchanges.get(id);
  const box = $("details");
  box.replaceChildren();
  for (const node of document.querySelectorAll(".entry.chosen")) node.classList.remove("chosen");
  for (const node of document.querySelectorAll(`.entry[data-exchange="${id}"]`)) {
    node.classList.add("chosen");
  }
  if (!entry) {
    box.append(el("p", "hint", "Waiting for the server's answer…"));
    return;
  }
  const d = entry.details;
  const list = el("dl", "facts");
  box.append(list);
  if (d.api) {
    fact(list, "Arrived through", `${d.api} (${entry.via})`);
    fact(list, "Answer", d.answer || '{"errcode":0,"errmsg":"ok"}');
    block(box, "Request body", d.body);
    return;
  }
  fact(list, "Mode", d.mode);
  fact(list, "Handler", d.handler || d.handler_note);
  if (d.handler) fact(list, "Handler source", d.handler_note);
  fact(list, "Time taken", `${d.took_ms} ms`);
  fact(list, "Retries WeChat sent", d.retries);
  fact(list, "Callback URL", d.url);
  const table = el("table", "attempts");
  table.append(el("caption", "", "Attempts"));
  const head = el("tr");
  for (const name of ["#", "sent at", "took", "status", "in time"]) head.append(el("th", "", name));
  table.append(head);
  for (const a of d.attempts) {
    const row = el("tr");
    for (const value of [a.number, `${a.sent_at_ms} ms`,
      a.elapsed_ms === null ? "" : `${a.elapsed_ms} ms`, a.status ?? a.error, a.received ? "yes" : "no"]) {
      row.append(el("td", "", String(value)));
    }
    table.append(row);
  }
  box.append(table);
  block(box, "Request query", d.request.query.split("&").join("\n"));
  block(box, d.request.encrypted ? "Request body (as sent)" : "Request body", d.request.body);
  if (d.request.encrypted) block(box, "Request, decrypted", d.request.plaintext);
  if (d.reply) {
    block(box, `Reply (HTTP ${d.reply.status}, ${d.reply.content_type || "no type"})`,
      d.reply.body || "(empty)");
    block(box, "Reply, decrypted", d.reply.plaintext);
  }
  block(box, "Server log", d.server_log.join("\n"));
}

function status(text) {
  $("status").textContent = text;
}

async function send(action) {
  action.mode = $("mode").value;
  action.openid = $("openid").value.trim();
  status("Sent; waiting for the answer…");
  try {
    const response = await fetch("/api/send", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(action),
    });
    const answer = await response.json().catch(() => ({}));
    status(response.ok ? "" : answer.error || `The simulator answered HTTP ${response.status}`);
  } catch (error) {
    status(`The simulator cannot be reached: ${error.message}`);
  }
}

function menuButton(button) {
  const node = el("button", "menu-item", button.name);
  node.type = "button";
  node.addEventListener("click", () => {
    const event = EVENT_OF_TYPE[button.type];
    if (!event) {
      status(`“${button.name}” opens ${button.type} ${button.media_id || button.article_id}; ` +
        "WeChat pushes no event for it.");
      return;
    }
    const key = button.type === "view" ? button.url
      : button.type === "miniprogram" ? button.pagepath : button.key;
    send({type: "event", event, key, label: button.name});
  });
  return node;
}

function drawMenu(state) {
  const nav = $("menu");
  nav.replaceChildren();
  if (!state.menu) {
    nav.append(el("p", "menu-error", `No menu: ${state.menu_error || "none set"}`));
    return;
  }
  state.menu.button.forEach((top, index) => {
    if (!top.sub_button || top.sub_button.length === 0) {
      nav.append(menuButton(top));
      return;
    }
    const group = el("div", "menu-group");
    group.setAttribute("role", "group");
    const label = el("span", "menu-parent", top.name);
    label.id = `menu-parent-${index}`;
    group.setAttribute("aria-labelledby", label.id);
    group.append(label);
    for (const sub of top.sub_button) group.append(menuButton(sub));
    nav.append(group);
  });
}

async function loadState() {
  const state = await (await fetch("/api/state")).json();
  $("chat-title").textContent = `${state.account.name} (${state.account.app_id})`;
  $("target").textContent = `Playing WeChat against ${state.url}; WeChat waits ` +
    `${state.wechat_timeout} s per attempt.`;
  const mode = $("mode");
  if (mode.options.length === 0) {
    for (const value of state.modes) mode.append(new Option(value, value));
    mode.value = state.mode;
    $("openid").value = state.openid;
  }
  drawMenu(state);
}

async function poll() {
  for (;;) {
    try {
      const response = await fetch(`/api/entries?after=${last}&wait=20`);
      const data = await response.json();
      if (data.epoch !== epoch) {
        // A new simulator: start the conversation over from its first entry.
        const first = epoch === null;
        epoch = data.epoch;
        if (!first) {
          $("log").replaceChildren();
          exchanges.clear();
          last = 0;
          continue;
        }
      }
      for (const entry of data.entries) {
        if (entry.seq > last) {
          render(entry);
          last = entry.seq;
        }
      }
      $("typing").hidden = !data.typing;
    } catch (error) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

function start() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("message");
    const content = input.value.trim();
    if (!content) return;
    input.value = "";
    send({type: "text", content});
  });
  for (const button of document.querySelectorAll("[data-event]")) {
    button.addEventListener("click", () => {
      const action = {type: "event", event: button.dataset.event, label: button.textContent};
      if ("scene" in button.dataset) action.scene = $("scene").value.trim();
      if (action.event === "LOCATION") {
        action.latitude = $("latitude").value;
        action.longitude = $("longitude").value;
      }
      send(action);
    });
  }
  for (const button of document.querySelectorAll("[data-upload]")) {
    button.addEventListener("click", () =>
      send({type: button.dataset.upload, media_id: $("media").value.trim()}));
  }
  // The conversation is drawn once the OpenID is known: entries to other users are dimmed.
  loadState()
    .catch((error) => status(`The simulator cannot be reached: ${error.message}`))
    .finally(poll);
}

start();
