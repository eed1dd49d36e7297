// The web chat: a Telegram private chat drawn from the sandbox's user side.
// Every text from the bot is put into the page as text nodes (entities become elements built
// here), never through innerHTML, so a product text cannot inject markup or script.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const userParam = Number.parseInt(params.get("user") || "1", 10);
  const USER = Number.isInteger(userParam) && userParam > 0 ? userParam : 1;
  const LANG = params.get("lang") === "ru" ? "ru" : "en";
  const $ = (id) => document.getElementById(id);

  let TOKEN = "";
  const stored = new Map(); // message_id -> {message, fromBot, deleted}
  const keyMembers = new Map(); // render key -> Set of message_ids
  const nodes = new Map(); // render key -> element
  const pendingButtons = new Map(); // callback_query_id -> button element
  const answeredQueries = new Set(); // callback_query_ids the bot has answered
  const calls = { total: 0, polls: 0, uploads: 0, reused: 0, urls: 0, bytes: 0 };

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function api(path) {
    return `/sandbox/bot${TOKEN}${path}`;
  }

  async function postJSON(path, body) {
    const response = await fetch(api(path), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  // ------------------------------------------------------------------ entities -> DOM

  function safeHref(url) {
    try {
      const parsed = new URL(url, location.href);
      return ["http:", "https:", "tg:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
    } catch {
      return null;
    }
  }

  function entityElement(entity, text) {
    const inner = text.slice(entity.offset, entity.offset + entity.length);
    switch (entity.type) {
      case "bold": return el("b");
      case "italic": return el("i");
      case "underline": return el("u");
      case "strikethrough": return el("s");
      case "code": return el("code");
      case "pre": return el("pre");
      case "blockquote": case "expandable_blockquote": return el("blockquote");
      case "spoiler": {
        const span = el("span", "spoiler");
        span.addEventListener("click", () => span.classList.add("shown"));
        return span;
      }
      case "text_link": case "url": {
        const href = safeHref(entity.type === "url" ? inner : entity.url);
        if (!href) return el("span");
        const a = el("a");
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        return a;
      }
      case "bot_command": {
        const span = el("span", "cmd");
        span.addEventListener("click", () => sendText(inner));
        return span;
      }
      default: return el("span", `entity-${String(entity.type).replace(/[^a-z_]/g, "")}`);
    }
  }

  // Offsets are UTF-16 code units, which is what JavaScript strings index: no conversion.
  function renderEntities(parent, text, entities) {
    const sorted = [...(entities || [])]
      .filter((e) => e.length > 0 && e.offset >= 0 && e.offset + e.length <= text.length)
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    function build(into, start, end, list) {
      let pos = start;
      let i = 0;
      while (i < list.length) {
        const entity = list[i];
        const stop = entity.offset + entity.length;
        const kids = [];
        let j = i + 1;
        while (j < list.length && list[j].offset < stop) {
          if (list[j].offset + list[j].length <= stop) kids.push(list[j]);
          j += 1;
        }
        if (entity.offset < pos) { i = j; continue; } // overlaps what is drawn: skip it
        if (entity.offset > pos) into.append(text.slice(pos, entity.offset));
        const node = entityElement(entity, text);
        build(node, entity.offset, stop, kids);
        into.append(node);
        pos = stop;
        i = j;
      }
      if (pos < end) into.append(text.slice(pos, end));
    }
    build(parent, 0, text.length, sorted);
  }

  // ------------------------------------------------------------------ media

  function fileUrl(fileId) {
    return `/webchat/files/${encodeURIComponent(fileId)}`;
  }

  function bestPhoto(sizes) {
    // Sizes come smallest first; the first whose long side reaches 800 looks sharp in a bubble.
    for (const size of sizes) if (Math.max(size.width, size.height) >= 800) return size;
    return sizes[sizes.length - 1];
  }

  function image(fileId, alt) {
    const img = el("img", "media");
    img.src = fileUrl(fileId);
    img.alt = alt || "";
    img.loading = "eager";
    img.decoding = "async";
    img.addEventListener("load", keepBottom);
    return img;
  }

  function mediaTile(message) {
    const tile = el("div", "tile");
    if (message.photo) {
      tile.append(image(bestPhoto(message.photo).file_id, "photo"));
    } else if (message.animation && /^image\//.test(message.animation.mime_type || "")) {
      // The sandbox keeps a GIF as sent (Telegram re-encodes it as MP4): an <img> plays it.
      tile.append(image(message.animation.file_id, message.animation.file_name || "animation"));
    } else if (message.animation || message.video) {
      const media = message.animation || message.video;
      const video = el("video");
      video.src = fileUrl(media.file_id);
      video.autoplay = true;
      video.loop = true;
      video.muted = true;
      video.playsInline = true;
      tile.append(video);
    } else if (message.document) {
      tile.append(documentRow(message.document));
    }
    return tile;
  }

  function humanSize(bytes) {
    if (bytes === undefined || bytes === null) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function documentRow(doc) {
    const row = el("div", "document");
    const icon = el("a", "doc-icon", "⬇");
    icon.href = fileUrl(doc.file_id);
    icon.download = doc.file_name || "file";
    const info = el("div");
    info.append(el("div", "doc-name", doc.file_name || "file"), el("div", "doc-size", humanSize(doc.file_size)));
    row.append(icon, info);
    return row;
  }

  const lottiePlayers = new Map(); // element -> animation, destroyed when the node is redrawn

  function stickerNode(sticker) {
    const box = el("div", "sticker");
    box.dataset.fileId = sticker.file_id;
    if (sticker.is_animated && window.lottie) {
      box.classList.add("animated");
      const animation = window.lottie.loadAnimation({
        container: box,
        renderer: "svg",
        loop: true,
        autoplay: true,
        path: `/webchat/stickers/${encodeURIComponent(sticker.file_id)}.json`,
      });
      animation.addEventListener("DOMLoaded", () => box.classList.add("playing"));
      lottiePlayers.set(box, animation);
    } else if (sticker.is_video) {
      const video = el("video");
      video.src = fileUrl(sticker.file_id);
      video.autoplay = true;
      video.loop = true;
      video.muted = true;
      box.append(video);
    } else {
      box.append(image(sticker.file_id, sticker.emoji || "sticker"));
    }
    return box;
  }

  // ------------------------------------------------------------------ messages

  function keyOf(message) {
    return message.media_group_id ? `g:${message.media_group_id}` : `m:${message.message_id}`;
  }

  function timeOf(message) {
    const date = new Date(message.date * 1000);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function metaNode(message, onMedia) {
    const meta = el("span", onMedia ? "meta media-meta" : "meta");
    meta.textContent = (message.edit_date ? "edited " : "") + timeOf(message);
    return meta;
  }

  function quoteNode(reply) {
    const quote = el("div", "quote");
    quote.textContent = reply.text || reply.caption || (reply.photo ? "Photo" : "Message");
    return quote;
  }

  function keyboardNode(message) {
    const rows = message.reply_markup && message.reply_markup.inline_keyboard;
    if (!rows || !rows.length) return null;
    const keyboard = el("div", "keyboard");
    for (const row of rows) {
      const line = el("div", "kb-row");
      for (const button of row) {
        if (button.url) {
          const a = el("a", "kb-btn url", button.text);
          const href = safeHref(button.url);
          if (href) { a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer"; }
          line.append(a);
          continue;
        }
        const b = el("button", "kb-btn", button.text);
        b.type = "button";
        if (button.callback_data !== undefined) {
          b.addEventListener("click", () => press(message.message_id, button.callback_data, b));
        } else {
          b.disabled = true;
        }
        line.append(b);
      }
      keyboard.append(line);
    }
    return keyboard;
  }

  function textBlock(cls, text, entities, meta) {
    const block = el("div", cls);
    renderEntities(block, text, entities);
    if (meta) block.append(meta);
    return block;
  }

  function drawSingle(message) {
    const bubble = el("div", "bubble");
    if (message.reply_to_message) bubble.append(quoteNode(message.reply_to_message));
    if (message.sticker) {
      bubble.classList.add("bare");
      bubble.append(stickerNode(message.sticker));
      return bubble;
    }
    if (message.text !== undefined) {
      bubble.append(textBlock("text", message.text, message.entities, metaNode(message, false)));
      return bubble;
    }
    // An animation message carries a "document" too (for old clients): show the animation.
    if (message.document && !message.photo && !message.animation) {
      bubble.append(documentRow(message.document));
    } else {
      bubble.classList.add("has-media");
      const album = el("div", "album n-1");
      album.append(mediaTile(message));
      bubble.append(album);
    }
    if (message.caption) {
      bubble.append(textBlock("caption", message.caption, message.caption_entities, metaNode(message, false)));
    } else {
      bubble.lastChild.style.position = "relative";
      bubble.lastChild.append(metaNode(message, true));
    }
    return bubble;
  }

  function drawAlbum(items) {
    const bubble = el("div", "bubble has-media");
    const docs = items.every((m) => m.document);
    const album = el("div", docs ? "docs" : `album n-${items.length}${items.length > 4 ? " many" : ""}`);
    album.dataset.count = String(items.length);
    for (const item of items) album.append(docs ? documentRow(item.document) : mediaTile(item));
    bubble.append(album);
    const captioned = items.find((m) => m.caption);
    const last = items[items.length - 1];
    if (captioned) {
      bubble.append(textBlock("caption", captioned.caption, captioned.caption_entities, metaNode(last, false)));
    } else {
      album.style.position = "relative";
      album.append(metaNode(last, true));
    }
    return bubble;
  }

  function draw(key) {
    const ids = [...(keyMembers.get(key) || [])].sort((a, b) => a - b);
    const items = ids.map((id) => stored.get(id)).filter((s) => s && !s.deleted);
    const old = nodes.get(key);
    if (old) for (const box of old.querySelectorAll(".sticker.animated")) {
      const animation = lottiePlayers.get(box);
      if (animation) animation.destroy();
      lottiePlayers.delete(box);
    }
    if (!items.length) {
      if (old) old.remove();
      nodes.delete(key);
      return;
    }
    const row = el("div", items[0].fromBot ? "row in" : "row out");
    row.dataset.key = key;
    row.dataset.messageIds = ids.join(",");
    const messages = items.map((s) => s.message);
    row.append(key.startsWith("g:") ? drawAlbum(messages) : drawSingle(messages[0]));
    const keyboard = keyboardNode(messages[messages.length - 1]);
    if (keyboard) row.append(keyboard);
    if (old) {
      old.replaceWith(row);
    } else {
      insertInOrder(row, ids[0]);
    }
    nodes.set(key, row);
  }

  function insertInOrder(row, firstId) {
    const list = $("messages");
    for (const child of list.children) {
      const childFirst = Number(child.dataset.messageIds.split(",")[0]);
      if (childFirst > firstId) { list.insertBefore(row, child); return; }
    }
    list.append(row);
  }

  function upsert(message, fromBot) {
    if (!message.chat || message.chat.id !== USER) return;
    const nearBottom = isNearBottom();
    const previous = stored.get(message.message_id);
    stored.set(message.message_id, { message, fromBot, deleted: previous ? previous.deleted : false });
    const key = keyOf(message);
    if (!keyMembers.has(key)) keyMembers.set(key, new Set());
    keyMembers.get(key).add(message.message_id);
    draw(key);
    if (nearBottom || !fromBot) scrollBottom();
  }

  function removeMessage(messageId) {
    const entry = stored.get(messageId);
    if (!entry) return;
    entry.deleted = true;
    draw(keyOf(entry.message));
  }

  function isNearBottom() {
    const list = $("messages");
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }

  function scrollBottom() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  let stickToBottom = true;
  function keepBottom() {
    if (stickToBottom) scrollBottom();
  }

  // ------------------------------------------------------------------ actions

  async function sendText(text) {
    if (!text.trim()) return;
    try {
      const message = await postJSON(`/users/${USER}/messages`, {
        text, language_code: LANG, first_name: `User ${USER}`,
      });
      upsert(message, false);
    } catch (error) {
      toast(`Not sent: ${error.message}`, true);
    }
  }

  async function press(messageId, data, button) {
    button.classList.add("pending");
    try {
      const { callback_query_id: id } = await postJSON(`/users/${USER}/callbacks`, { message_id: messageId, data });
      // A quick bot answers before this request returns: its event has been seen already.
      if (answeredQueries.has(id)) { button.classList.remove("pending"); return; }
      pendingButtons.set(id, button);
      // Telegram stops the spinner after a while even when the bot never answers.
      setTimeout(() => { button.classList.remove("pending"); pendingButtons.delete(id); }, 15000);
    } catch (error) {
      button.classList.remove("pending");
      toast(error.message, true);
    }
  }

  async function sendFile(file) {
    const name = file.name.toLowerCase();
    let kind = "document";
    if (name.endsWith(".tgs") || name.endsWith(".webp") || name.endsWith(".webm")) kind = "sticker";
    else if (/^image\/(jpeg|png|gif)$/.test(file.type)) kind = "photo";
    const form = new FormData();
    form.append("kind", kind);
    form.append("language_code", LANG);
    form.append("file", file, file.name);
    const response = await fetch(api(`/users/${USER}/files`), { method: "POST", body: form });
    const data = await response.json();
    if (!response.ok) { toast(`Not sent: ${data.error}`, true); return; }
    upsert(data, false);
  }

  let toastTimer = 0;
  function toast(text, alert) {
    const box = $("toast");
    box.textContent = text;
    box.classList.toggle("alert", Boolean(alert));
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, alert ? 5000 : 2500);
  }

  const ACTIONS = {
    typing: "typing…", upload_photo: "sending a photo…", upload_document: "sending a file…",
    choose_sticker: "choosing a sticker…", record_video: "recording a video…",
  };
  let statusTimer = 0;
  function showAction(action) {
    const status = $("bot-status");
    status.textContent = ACTIONS[action] || `${action}…`;
    status.classList.add("busy");
    clearTimeout(statusTimer);
    // Telegram shows a chat action for 5 seconds or until the next message.
    statusTimer = setTimeout(clearAction, 5000);
  }
  function clearAction() {
    const status = $("bot-status");
    status.textContent = "bot";
    status.classList.remove("busy");
  }

  // ------------------------------------------------------------------ side panel

  function callNode(call) {
    const item = el("li", "call");
    if (!call.ok) item.classList.add("failed");
    const chatId = call.params && call.params.chat_id;
    if (chatId !== undefined && Number(chatId) !== USER) item.classList.add("other-chat");
    const head = el("div", "call-head");
    const when = new Date(call.time * 1000);
    const stamp = when.toLocaleTimeString([], { hour12: false }) + "." + String(when.getMilliseconds()).padStart(3, "0");
    const size = (call.uploads || []).reduce((sum, u) => sum + (u.size || 0), 0);
    head.append(
      el("span", "call-method", call.method),
      el("span", "call-dur", `${Math.round(call.duration_ms)} ms`),
      el("span", "call-time", stamp),
    );
    item.append(head);
    const tags = el("div", "call-media");
    for (const media of call.media || []) {
      const label = { upload: "uploaded", file_id: "file_id reused", url: "by URL" }[media.source] || media.source;
      const tag = el("span", `tag ${media.source}`, label + (media.size ? ` ${humanSize(media.size)}` : ""));
      tag.title = media.filename || media.value || "";
      tags.append(tag);
    }
    if (size) tags.append(el("span", "tag", `sent ${humanSize(size)}`));
    if (!call.ok) tags.append(el("span", "tag error", `${call.status} ${call.description || ""}`));
    if (chatId !== undefined && Number(chatId) !== USER) tags.append(el("span", "tag", `chat ${chatId}`));
    if (tags.childNodes.length) item.append(tags);
    return item;
  }

  function addCall(call) {
    calls.total += 1;
    if (call.method.toLowerCase() === "getupdates") {
      // Long polls are most of the log and say little: counted, not listed.
      calls.polls += 1;
      showCallSummary();
      return;
    }
    for (const media of call.media || []) {
      if (media.source === "upload") calls.uploads += 1;
      else if (media.source === "file_id") calls.reused += 1;
      else if (media.source === "url") calls.urls += 1;
    }
    calls.bytes += (call.uploads || []).reduce((sum, u) => sum + (u.size || 0), 0);
    const list = $("calls");
    list.prepend(callNode(call));
    while (list.children.length > 300) list.lastChild.remove();
    showCallSummary();
    scheduleStats();
  }

  function showCallSummary() {
    $("calls-summary").textContent =
      `${calls.total} calls (${calls.polls} getUpdates not listed) · ` +
      `${calls.uploads} uploaded (${humanSize(calls.bytes)}) · ${calls.reused} file_id reused`;
  }

  function addFault(fault) {
    const item = el("li", "call fault");
    item.append(el("div", "call-method", `fault injected: ${fault.method}`));
    $("calls").prepend(item);
  }

  const STAT_ROWS = [
    ["image_cache", "hits", "cache hits"], ["image_cache", "misses", "cache misses"],
    ["image_cache", "hit_ratio", "hit ratio"], ["image_cache", "downloads", "downloads"],
    ["image_cache", "bytes_downloaded", "downloaded"], ["image_cache", "shared_downloads", "shared downloads"],
    ["image_cache", "retries", "retries"], ["image_cache", "files", "files on disk"],
    ["image_cache", "bytes", "bytes on disk"], ["image_cache", "in_flight", "downloads in flight"],
    ["file_ids", "entries", "file_ids learned"], ["file_ids", "hits", "file_id hits"],
    ["file_ids", "misses", "file_id misses"],
  ];

  async function loadStats() {
    try {
      const response = await fetch("/webchat/stats");
      const data = await response.json();
      const table = $("stats");
      table.textContent = "";
      if (!data.available) {
        table.append(el("tr")).append(el("td", "", "no bot process attached"));
        return;
      }
      $("stats-source").textContent = "ImageService.stats() of the bot";
      for (const [section, field, label] of STAT_ROWS) {
        if (!data[section] || data[section][field] === undefined) continue;
        let value = data[section][field];
        if (field.startsWith("bytes")) value = humanSize(value);
        const tr = el("tr");
        tr.append(el("td", "", label), el("td", "", value));
        table.append(tr);
      }
      const errors = data.image_cache && data.image_cache.errors;
      for (const [kind, count] of Object.entries(errors || {})) {
        const tr = el("tr");
        tr.append(el("td", "", `errors: ${kind}`), el("td", "", count));
        table.append(tr);
      }
    } catch {
      // The bot may be restarting: the next call or tick retries.
    }
  }
  let statsTimer = 0;
  function scheduleStats() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(loadStats, 300);
  }

  // ------------------------------------------------------------------ live updates

  function onEvent(event) {
    const data = event.data || {};
    switch (event.kind) {
      case "message":
        if (data.message) {
          if (data.from_bot) clearAction();
          upsert(data.message, Boolean(data.from_bot));
        }
        break;
      case "edit":
        if (data.message) upsert(data.message, true);
        break;
      case "delete":
        if (event.chat_id === USER) removeMessage(data.message_id);
        break;
      case "action":
        if (event.chat_id === USER) showAction(data.action);
        break;
      case "callback_answer": {
        answeredQueries.add(data.callback_query_id);
        const button = pendingButtons.get(data.callback_query_id);
        if (button) { button.classList.remove("pending"); pendingButtons.delete(data.callback_query_id); }
        if (event.chat_id === USER && data.text) toast(data.text, data.show_alert);
        break;
      }
      case "call":
        addCall(data);
        break;
      case "fault":
        addFault(data);
        break;
      default:
        break;
    }
  }

  let socketDelay = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${api("/events")}`);
    socket.addEventListener("open", () => {
      socketDelay = 500;
      document.body.dataset.live = "1";
      // Whatever happened while the socket was down is in the history.
      loadHistory();
    });
    socket.addEventListener("message", (msg) => onEvent(JSON.parse(msg.data)));
    socket.addEventListener("close", () => {
      document.body.dataset.live = "0";
      setTimeout(connect, socketDelay);
      socketDelay = Math.min(socketDelay * 2, 10000);
    });
  }

  async function loadHistory() {
    const response = await fetch(api(`/chats/${USER}/messages?all=1`));
    if (!response.ok) return; // no chat yet: the user has not written
    const messages = await response.json();
    for (const message of messages) {
      upsert(message, message.from && message.from.is_bot === true);
    }
    scrollBottom();
  }

  async function loadCalls() {
    const response = await fetch(api("/calls"));
    if (!response.ok) return;
    for (const call of await response.json()) addCall(call);
  }

  // ------------------------------------------------------------------ start

  async function start() {
    const response = await fetch(`/webchat/config?user=${USER}&lang=${LANG}`);
    const config = await response.json();
    TOKEN = config.token;
    $("bot-name").textContent = config.bot.first_name;
    document.title = `${config.bot.first_name} · User ${USER}`;

    const picker = $("user-picker");
    const ids = new Set([USER, 1, 2, 3, ...config.users.map((u) => u.id)]);
    for (const id of [...ids].sort((a, b) => a - b)) {
      const option = el("option", "", `User ${id}`);
      option.value = String(id);
      option.selected = id === USER;
      picker.append(option);
    }
    picker.addEventListener("change", () => {
      params.set("user", picker.value);
      location.search = params.toString();
    });
    const langPicker = $("lang-picker");
    langPicker.value = LANG;
    langPicker.addEventListener("change", () => {
      params.set("lang", langPicker.value);
      location.search = params.toString();
    });
    const next = new URLSearchParams(params);
    next.set("user", String(Math.max(...ids) + 1));
    $("new-user").href = `?${next}`;

    const menu = $("commands");
    $("menu-btn").addEventListener("click", () => { menu.hidden = !menu.hidden; });
    for (const command of config.commands) {
      const item = el("button");
      item.type = "button";
      item.append(el("b", "", `/${command.command}`), document.createTextNode(command.description));
      item.addEventListener("click", () => { menu.hidden = true; sendText(`/${command.command}`); });
      menu.append(item);
    }
    if (!config.commands.length) $("menu-btn").hidden = true;

    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("text-input");
      const text = input.value;
      input.value = "";
      sendText(text);
    });
    $("file-input").addEventListener("change", (event) => {
      const file = event.target.files[0];
      event.target.value = "";
      if (file) sendFile(file);
    });
    $("messages").addEventListener("scroll", () => { stickToBottom = isNearBottom(); });

    await loadCalls();
    loadStats();
    setInterval(loadStats, 5000);
    connect();
    document.body.dataset.ready = "1";
  }

  start().catch((error) => toast(`The web chat could not start: ${error.message}`, true));
})();
