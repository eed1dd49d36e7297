// Inline mode in the web chat, as Telegram's apps have it: typing "@bot text" in a message
// field shows the bot's answer in a strip above the field (a grid of photos, or a list of
// articles), more results load when the strip is scrolled to its end, and picking one sends it
// into the chat "via @bot". A switch-inline button ("Share") opens a chat picker, then that
// chat with "@bot query" in its field. Besides the chat with the bot, the page has the chats no
// bot is in: the user's Saved Messages and other users, drawn over the bot's chat.
// app.js draws messages (window.WebChat); this file adds what inline mode needs. Texts from the
// bot are put into the page as text nodes only.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const ICONS = {
    chats: "M4 5.5h16a1.5 1.5 0 0 1 1.5 1.5v9a1.5 1.5 0 0 1-1.5 1.5H9l-4.5 3.5V17.5H4A1.5 1.5 0 0 1 2.5 16V7A1.5 1.5 0 0 1 4 5.5z",
    back: "M15 5l-7 7 7 7",
    saved: "M7 3.5h10a1 1 0 0 1 1 1v16l-6-4-6 4v-16a1 1 0 0 1 1-1z",
    send: "M3.4 20.4l17.9-7.7a.8.8 0 0 0 0-1.4L3.4 3.6a.8.8 0 0 0-1.1.9L4 10.8l9.5 1.2L4 13.2l-1.7 6.3a.8.8 0 0 0 1.1.9z",
  };
  // Telegram's apps wait a moment after each key before asking the bot (TDLib: 400 ms).
  const TYPING_PAUSE_MS = 300;

  let W = null; // app.js's hooks
  let config = null; // the web chat's config: token, bot (getMe), inline settings, users
  let BOT = null;
  const boxes = []; // one InlineBox per message field
  let side = null; // the chat no bot is in, drawn over the bot's chat

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(name) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", ICONS[name]);
    const filled = name === "send" || name === "saved";
    path.setAttribute("fill", filled ? "currentColor" : "none");
    if (!filled) {
      path.setAttribute("stroke", "currentColor");
      path.setAttribute("stroke-width", "2");
      path.setAttribute("stroke-linecap", "round");
      path.setAttribute("stroke-linejoin", "round");
    }
    svg.append(path);
    return svg;
  }

  function names() {
    return { first_name: `User ${W.user}`, language_code: W.lang };
  }

  function chatTitle(peer) {
    if (peer === W.user) return "Saved Messages";
    if (BOT && peer === BOT.id) return BOT.first_name;
    const known = (config.users || []).find((u) => u.id === peer);
    return known ? known.first_name : `User ${peer}`;
  }

  // ------------------------------------------------------------------ the results strip

  // "@botname text": inline mode starts at the space after the bot's username.
  function inlineQueryOf(value) {
    if (!BOT) return null;
    const match = /^@([A-Za-z0-9_]{1,64}) ([\s\S]*)$/.exec(value);
    if (!match || match[1].toLowerCase() !== BOT.username.toLowerCase()) return null;
    return match[2];
  }

  class InlineBox {
    constructor(input, form, chatId) {
      this.input = input;
      this.form = form;
      this.chatId = chatId; // () => the chat this field writes in, as the user sees it
      this.strip = el("div", "inline-strip");
      this.strip.hidden = true;
      this.strip.setAttribute("role", "listbox");
      form.parentNode.insertBefore(this.strip, form);
      this.seq = 0;
      this.timer = 0;
      this.query = null;
      this.next = "";
      this.loading = false;
      this.results = null;
      input.addEventListener("input", () => this.typed());
      input.addEventListener("keydown", (event) => { if (event.key === "Escape") this.close(); });
      // The app sends the field's text on Enter as a message; the strip goes with it.
      form.addEventListener("submit", () => this.close());
      this.strip.addEventListener("scroll", () => this.scrolled(), { passive: true });
    }

    typed() {
      const query = inlineQueryOf(this.input.value);
      clearTimeout(this.timer);
      if (query === null) { this.close(); return; }
      // BotFather's /setinline placeholder says what to type while the query is empty.
      const hint = config.inline && config.inline.placeholder;
      if (query === "" && hint && this.strip.hidden) this.note(hint, "hint");
      this.timer = setTimeout(() => this.ask(query, ""), TYPING_PAUSE_MS);
    }

    close() {
      clearTimeout(this.timer);
      this.seq += 1;
      this.query = null;
      this.strip.hidden = true;
      this.strip.textContent = "";
    }

    async ask(query, offset) {
      const seq = ++this.seq;
      this.loading = true;
      if (!offset && this.strip.dataset.state !== "hint") this.note("Searching…", "loading");
      try {
        const answer = await W.postJSON(`/users/${W.user}/inline_queries`, {
          query, offset, chat_id: this.chatId(), ...names(),
        });
        if (seq !== this.seq) return; // the user typed on meanwhile
        this.query = query;
        this.next = answer.next_offset || "";
        this.draw(answer, Boolean(offset));
      } catch (error) {
        if (seq === this.seq) this.note(error.message, "error");
      } finally {
        if (seq === this.seq) this.loading = false;
      }
    }

    note(text, kind) {
      this.strip.hidden = false;
      this.strip.textContent = "";
      this.strip.dataset.state = kind;
      this.strip.append(el("div", "inline-note", text));
    }

    draw(answer, more) {
      if (!more) {
        this.strip.textContent = "";
        this.strip.dataset.state = "ready";
        this.strip.scrollTop = 0;
        if (answer.button) this.strip.append(this.buttonNode(answer.button));
        if (!answer.results.length) {
          this.strip.append(el("div", "inline-note", "No results"));
          this.strip.hidden = false;
          return;
        }
        this.results = el("div", answer.gallery ? "inline-results grid" : "inline-results list");
        this.strip.append(this.results);
      }
      answer.results.forEach((result, index) => {
        this.results.append(this.itemNode(answer.inline_query_id, index, result));
      });
      this.strip.hidden = false;
      // A short first page does not fill the strip: no scroll would ever ask for more.
      this.scrolled();
    }

    buttonNode(button) {
      const node = el("button", "inline-switch", button.text);
      node.type = "button";
      node.addEventListener("click", () => {
        this.input.value = "";
        this.close();
        if (button.start_parameter !== undefined) openBotChat(`/start ${button.start_parameter}`);
        else W.toast("Web Apps are not emulated by the sandbox", true);
      });
      return node;
    }

    thumbnailOf(queryId, index, result) {
      if (result.photo_file_id) return W.fileUrl(result.photo_file_id);
      if (result.thumbnail_url || result.thumb_url || result.photo_url) {
        return `/webchat/inline/${encodeURIComponent(queryId)}/${index}/thumb`;
      }
      return null;
    }

    itemNode(queryId, index, result) {
      const item = el("button", `inline-item ${result.type}`);
      item.type = "button";
      item.dataset.resultId = result.id;
      item.setAttribute("role", "option");
      const src = this.thumbnailOf(queryId, index, result);
      if (result.type === "photo") {
        const img = el("img");
        img.alt = result.title || result.caption || "photo";
        if (src) img.src = src;
        item.append(img);
        item.title = result.title || result.caption || "";
      } else {
        const thumb = el("div", "inline-thumb");
        if (src) {
          const img = el("img");
          img.alt = "";
          img.src = src;
          thumb.append(img);
        } else {
          // Telegram draws a result without a picture as its title's first letter.
          thumb.textContent = Array.from(result.title || "?")[0].toUpperCase();
        }
        const info = el("div", "inline-info");
        info.append(el("div", "inline-title", result.title || ""));
        if (result.description) info.append(el("div", "inline-desc", result.description));
        item.append(thumb, info);
      }
      item.addEventListener("click", () => this.pick(queryId, result.id, item));
      return item;
    }

    scrolled() {
      const strip = this.strip;
      const atEnd = strip.scrollHeight - strip.scrollTop - strip.clientHeight < 40;
      if (atEnd && this.next && !this.loading && this.query !== null) this.ask(this.query, this.next);
    }

    async pick(queryId, resultId, item) {
      item.classList.add("pending");
      try {
        await W.postJSON(`/users/${W.user}/inline_queries/${encodeURIComponent(queryId)}/choose`, {
          result_id: resultId,
        });
        this.input.value = "";
        this.close();
      } catch (error) {
        item.classList.remove("pending");
        W.toast(`Not sent: ${error.message}`, true);
      }
    }

    // Puts "@bot query" in the field and asks at once, as a switch-inline button does.
    start(query) {
      this.input.value = `@${BOT.username} ${query}`;
      this.input.focus();
      this.typed();
    }
  }

  // ------------------------------------------------------------------ the chats no bot is in

  class SideChat {
    constructor(chatPane) {
      this.peer = null;
      this.ids = new Set();
      this.node = el("section", "side-chat");
      this.node.hidden = true;
      const header = el("header", "chat-header");
      const back = el("button", "icon-btn side-back");
      back.type = "button";
      back.title = "Back to the bot";
      back.append(icon("back"));
      back.addEventListener("click", () => this.close());
      this.avatar = el("div", "avatar side-avatar");
      const who = el("div", "who");
      this.title = el("div", "bot-name side-title");
      this.status = el("div", "bot-status");
      who.append(this.title, this.status);
      header.append(back, this.avatar, who);
      this.list = el("section", "messages side-messages");
      this.form = el("form", "composer side-composer");
      this.form.autocomplete = "off";
      const box = el("div", "input-box");
      this.input = el("input");
      this.input.type = "text";
      this.input.placeholder = "Message";
      this.input.maxLength = 4096;
      box.append(this.input);
      const send = el("button", "send-btn");
      send.type = "submit";
      send.title = "Send";
      send.append(icon("send"));
      this.form.append(box, send);
      this.form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = this.input.value;
        this.input.value = "";
        if (text.trim()) this.write(text);
      });
      this.node.append(header, this.list, this.form);
      chatPane.append(this.node);
      this.box = new InlineBox(this.input, this.form, () => this.peer);
      boxes.push(this.box);
    }

    async open(peer) {
      this.peer = peer;
      this.ids.clear();
      this.list.textContent = "";
      this.title.textContent = chatTitle(peer);
      this.status.textContent = peer === W.user ? "" : "last seen recently";
      this.avatar.textContent = "";
      this.avatar.classList.toggle("saved", peer === W.user);
      if (peer === W.user) this.avatar.append(icon("saved"));
      else this.avatar.textContent = chatTitle(peer).slice(0, 1).toUpperCase();
      this.node.hidden = false;
      this.box.close();
      const response = await fetch(W.api(`/users/${W.user}/chats/${peer}/messages`));
      if (response.ok) for (const message of await response.json()) this.add(message);
    }

    close() {
      this.box.close();
      this.node.hidden = true;
      this.peer = null;
    }

    add(message) {
      if (this.ids.has(message.message_id)) return;
      this.ids.add(message.message_id);
      const row = W.messageRow(message, message.from && message.from.id === W.user);
      row.dataset.messageId = String(message.message_id);
      this.list.append(row);
      this.list.scrollTop = this.list.scrollHeight;
    }

    async write(text) {
      try {
        this.add(await W.postJSON(`/users/${W.user}/chats/${this.peer}/messages`, { text, ...names() }));
      } catch (error) {
        W.toast(`Not sent: ${error.message}`, true);
      }
    }

    onMessage(users, message) {
      if (this.peer === null) return;
      const other = users[0] === W.user ? users[1] : users[0];
      if (users.includes(W.user) && other === this.peer) this.add(message);
    }
  }

  // Back to the bot's chat, optionally saying something there (a deep link's /start).
  function openBotChat(text) {
    side.close();
    if (text) W.sendText(text);
  }

  function boxFor(peer) {
    if (peer === BOT.id) {
      side.close();
      return boxes[0];
    }
    return side.box;
  }

  // ------------------------------------------------------------------ the chat picker

  function pickChat(title, kinds) {
    return new Promise((resolve) => {
      const veil = el("div", "chat-picker");
      const card = el("div", "chat-picker-card");
      card.setAttribute("role", "dialog");
      card.append(el("div", "chat-picker-title", title));
      const choices = [];
      if (kinds.includes("users")) {
        choices.push(W.user);
        for (const u of config.users || []) if (u.id !== W.user) choices.push(u.id);
      }
      if (kinds.includes("bots")) choices.push(BOT.id);
      const finish = (peer) => { veil.remove(); resolve(peer); };
      for (const peer of choices) {
        const option = el("button", "chat-picker-option");
        option.type = "button";
        option.dataset.peer = String(peer);
        const avatar = el("span", "avatar small");
        if (peer === W.user) { avatar.classList.add("saved"); avatar.append(icon("saved")); }
        else avatar.textContent = chatTitle(peer).slice(0, 1).toUpperCase();
        option.append(avatar, el("span", "", chatTitle(peer)));
        option.addEventListener("click", () => finish(peer));
        card.append(option);
      }
      if (!choices.length) card.append(el("div", "inline-note", "No chat of the kinds this button allows"));
      const cancel = el("button", "chat-picker-cancel", "Cancel");
      cancel.type = "button";
      cancel.addEventListener("click", () => finish(null));
      veil.addEventListener("click", (event) => { if (event.target === veil) finish(null); });
      card.append(cancel);
      veil.append(card);
      document.querySelector(".chat").append(veil);
    });
  }

  async function openChat(peer) {
    if (peer === null || peer === undefined) return;
    if (peer === BOT.id) openBotChat("");
    else await side.open(peer);
  }

  // ------------------------------------------------------------------ hooks app.js calls

  const SWITCH_FIELDS = ["switch_inline_query", "switch_inline_query_current_chat", "switch_inline_query_chosen_chat"];

  window.WebChatInline = {
    isSwitch: (button) => SWITCH_FIELDS.some((field) => field in button),

    async pressSwitch(message, button) {
      // The sandbox says where the button leads (the same route a test presses it with).
      // The chat the button is in: the drawn-over chat while it is open, else the bot's.
      const chatId = side.peer === null ? BOT.id : side.peer;
      let target;
      try {
        target = await W.postJSON(`/users/${W.user}/switch_inline`, {
          message_id: message.message_id, text: button.text, chat_id: chatId,
        });
      } catch (error) {
        W.toast(error.message, true);
        return;
      }
      let peer = chatId;
      if (target.target === "choose_chat") {
        peer = await pickChat("Choose a chat", target.chat_types);
        if (peer === null) return;
        await openChat(peer);
      }
      boxFor(peer).start(target.query);
    },

    viaNode(bot) {
      const via = el("div", "via", "via ");
      const name = el("b", "", `@${bot.username}`);
      via.append(name);
      // Tapping the bot's name starts an inline query in this chat, as in Telegram.
      if (BOT && bot.id === BOT.id) {
        name.setAttribute("role", "link");
        name.addEventListener("click", () => (side.peer === null ? boxes[0] : side.box).start(""));
      }
      return via;
    },

    onEvent(event) {
      if (event.kind === "user_message" && event.data && side) {
        side.onMessage(event.data.users || [], event.data.message);
      }
    },
  };

  // A link to this bot (t.me/<bot>?start=payload) opens its chat and starts it there, as
  // Telegram does, instead of leaving for t.me.
  function deepLink(event) {
    const link = event.target.closest && event.target.closest("a[href]");
    if (!link || !BOT) return;
    let url;
    try { url = new URL(link.href); } catch { return; }
    if (!["t.me", "telegram.me"].includes(url.hostname)) return;
    if (url.pathname.replace(/^\//, "").toLowerCase() !== BOT.username.toLowerCase()) return;
    event.preventDefault();
    const payload = url.searchParams.get("start");
    openBotChat(payload !== null ? `/start ${payload}`.trim() : "");
  }

  async function start() {
    W = window.WebChat;
    if (!W) return;
    const response = await fetch(`/webchat/config?user=${W.user}&lang=${W.lang}`);
    config = await response.json();
    BOT = config.bot;
    const chatPane = document.querySelector(".chat");
    boxes.push(new InlineBox(document.getElementById("text-input"), document.getElementById("composer"), () => BOT.id));
    side = new SideChat(chatPane);
    const chats = el("button", "icon-btn", "");
    chats.type = "button";
    chats.id = "chats-btn";
    chats.title = "Chats: Saved Messages, other users";
    chats.append(icon("chats"));
    chats.addEventListener("click", async () => openChat(await pickChat("Chats", ["users", "bots"])));
    const panelButton = document.getElementById("panel-btn");
    panelButton.parentNode.insertBefore(chats, panelButton);
    document.addEventListener("click", deepLink, true);
    document.body.dataset.inline = config.inline && config.inline.inline ? "on" : "off";
  }

  // app.js (deferred too) has set window.WebChat by then, whichever script came first.
  document.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => window.WebChat && window.WebChat.toast(`Inline mode could not start: ${error.message}`, true));
  });
})();
