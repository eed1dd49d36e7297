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

  // The app's own words, in the app's language (Telegram's wording).
  const UI = {
    en: {
      message: "Message", bot: "bot", start: "START", menu: "Menu",
      whatCan: "What can this bot do?", empty: "No messages here yet…",
      typing: "typing", upload_photo: "sending a photo", upload_document: "sending a file",
      choose_sticker: "choosing a sticker", record_video: "recording a video",
    },
    ru: {
      message: "Сообщение", bot: "бот", start: "ЗАПУСТИТЬ", menu: "Меню",
      whatCan: "Что умеет этот бот?", empty: "Здесь пока ничего нет…",
      typing: "печатает", upload_photo: "отправляет фото", upload_document: "отправляет файл",
      choose_sticker: "выбирает стикер", record_video: "записывает видео",
    },
  }[LANG];

  let TOKEN = "";
  const stored = new Map(); // message_id -> {message, fromBot, deleted}
  const keyMembers = new Map(); // render key -> Set of message_ids
  const nodes = new Map(); // render key -> element
  const pendingButtons = new Map(); // callback_query_id -> button element
  const answeredQueries = new Set(); // callback_query_ids the bot has answered
  const calls = { total: 0, polls: 0, uploads: 0, reused: 0, urls: 0, bytes: 0 };
  let profile = { name: "", description: "" };
  let started = false; // the chat has messages: the composer replaces START

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", `#i-${name}`);
    svg.append(use);
    svg.setAttribute("aria-hidden", "true");
    return svg;
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

  function commandNode(command) {
    const span = el("span", "cmd", command);
    span.setAttribute("role", "link");
    span.addEventListener("click", () => sendText(command));
    return span;
  }

  // In a message, Telegram's server marks each "/command" as a bot_command entity (the
  // sandbox does too). A bot's description comes as plain text, which Telegram's apps search
  // themselves, the same way: a slash after a space or the start, 1-64 letters, digits or _,
  // an optional @botname, and no word character or slash right after.
  const COMMAND_RE = /(^|[^\w/<>])(\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?)(?![\w/<>])/g;

  function appendText(into, text, findCommands) {
    if (!findCommands) { into.append(text); return; }
    let pos = 0;
    for (const match of text.matchAll(COMMAND_RE)) {
      const start = match.index + match[1].length;
      if (start > pos) into.append(text.slice(pos, start));
      into.append(commandNode(match[2]));
      pos = start + match[2].length;
    }
    if (pos < text.length) into.append(text.slice(pos));
  }

  // Inside these, text stays as it is: code is code, a link is already a link.
  const NO_COMMANDS_INSIDE = new Set(["code", "pre", "text_link", "url", "bot_command", "mention",
    "text_mention", "email", "phone_number", "hashtag", "cashtag", "custom_emoji"]);

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
        span.setAttribute("role", "link");
        span.addEventListener("click", () => sendText(inner));
        return span;
      }
      default: return el("span", `entity-${String(entity.type).replace(/[^a-z_]/g, "")}`);
    }
  }

  // Offsets are UTF-16 code units, which is what JavaScript strings index: no conversion.
  function renderEntities(parent, text, entities, findCommands = false) {
    const sorted = [...(entities || [])]
      .filter((e) => e.length > 0 && e.offset >= 0 && e.offset + e.length <= text.length)
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    function build(into, start, end, list, findCommands) {
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
        if (entity.offset > pos) appendText(into, text.slice(pos, entity.offset), findCommands);
        const node = entityElement(entity, text);
        build(node, entity.offset, stop, kids, findCommands && !NO_COMMANDS_INSIDE.has(entity.type));
        into.append(node);
        pos = stop;
        i = j;
      }
      if (pos < end) appendText(into, text.slice(pos, end), findCommands);
    }
    build(parent, 0, text.length, sorted, findCommands);
  }

  // ------------------------------------------------------------------ album layout

  // Telegram lays an album out by its photos' shapes, so that every photo shows most of itself
  // and the album is a rectangle with no empty cell. Two to four photos get an arrangement
  // chosen by whether each is wide, narrow or square (side by side, one above the other, one
  // large beside or above the rest). Five or more, or any very wide one, go in two to four
  // rows: in a row the photos stand at one height and fill the width together, so a row of
  // wide photos is low and a row of narrow ones is high; of all the ways to cut the album
  // into rows, the one whose height comes nearest to 4:3 portrait wins, with a penalty for
  // rows too low to read and for rows with fewer photos than the row above.
  // This is our own code after the idea of Telegram Desktop's Ui::LayoutMediaGroup
  // (ui/grouped_layout.cpp) and Web K's groupedLayout.ts; their code is GPL and none of it
  // is copied here.
  const ALBUM_W = 420; // the box the layout is computed in; drawn at any width in percent
  const ALBUM_GAP = 2;
  const TILE_MIN = 84; // a tile lower or thinner than this reads as a sliver

  const total = (list) => list.reduce((a, b) => a + b, 0);
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);
  const shapeOf = (ratio) => (ratio > 1.2 ? "w" : ratio < 0.8 ? "n" : "q");

  // `length` cut into parts in proportion to `weights`, none under `least` (when they fit).
  function cut(length, weights, least) {
    const pinned = weights.map(() => false);
    for (;;) {
      const freeWeight = total(weights.filter((_, i) => !pinned[i]));
      const room = length - least * pinned.filter(Boolean).length;
      if (freeWeight <= 0 || room <= 0) return weights.map(() => length / weights.length);
      const parts = weights.map((w, i) => (pinned[i] ? least : (room * w) / freeWeight));
      const thin = parts.map((part, i) => !pinned[i] && part < least);
      if (!thin.some(Boolean)) return parts;
      thin.forEach((isThin, i) => { if (isThin) pinned[i] = true; });
    }
  }

  // Tiles side by side at `y`, `height` high, across the whole width.
  function rowOf(rects, first, weights, y, height) {
    const widths = cut(ALBUM_W - ALBUM_GAP * (weights.length - 1), weights, TILE_MIN);
    let x = 0;
    widths.forEach((w, i) => {
      rects[first + i] = { x, y, w, h: height };
      x += w + ALBUM_GAP;
    });
  }

  // Tiles one above the other at `x`, `width` wide, `height` high in all.
  function columnOf(rects, first, weights, x, width, height) {
    const heights = cut(height - ALBUM_GAP * (weights.length - 1), weights, TILE_MIN * 0.6);
    let y = 0;
    heights.forEach((h, i) => {
      rects[first + i] = { x, y, w: width, h };
      y += h + ALBUM_GAP;
    });
  }

  // Every way to put n photos in 2-4 rows of 1-3 (a middle row of 4 when the photos are
  // narrow, as a row of narrow photos is low enough for four).
  function rowPlans(n, narrow) {
    const plans = [];
    function extend(plan, left) {
      if (left === 0) {
        const fits = plan.every((count, i) => count <= 3 || (narrow && plan.length === 3 && i === 1));
        if (plan.length >= 2 && fits) plans.push(plan);
        return;
      }
      if (plan.length === 4) return;
      for (let count = 1; count <= Math.min(4, left); count += 1) extend([...plan, count], left - count);
    }
    extend([], n);
    return plans;
  }

  function rowsLayout(ratios) {
    const n = ratios.length;
    const average = total(ratios) / n;
    // Within rows, odd shapes are cropped toward the album's own: wide albums keep photos
    // between square and 2.75:1, the others between 2:3 and square.
    const shapes = ratios.map((r) => (average > 1.1 ? clamp(r, 1, 2.75) : clamp(r, 0.6667, 1)));
    const wanted = (ALBUM_W * 4) / 3;
    let best = null;
    for (const plan of rowPlans(n, average < 0.85)) {
      const heights = [];
      let first = 0;
      for (const count of plan) {
        const row = shapes.slice(first, first + count);
        heights.push((ALBUM_W - ALBUM_GAP * (count - 1)) / total(row));
        first += count;
      }
      const height = total(heights) + ALBUM_GAP * (plan.length - 1);
      let miss = Math.abs(height - wanted);
      if (Math.min(...heights) < TILE_MIN) miss *= 1.5;
      if (plan.some((count, i) => i > 0 && plan[i - 1] > count)) miss *= 1.5;
      if (best === null || miss < best.miss) best = { plan, heights, height, miss };
    }
    const rects = [];
    let first = 0;
    let y = 0;
    best.plan.forEach((count, row) => {
      rowOf(rects, first, shapes.slice(first, first + count), y, best.heights[row]);
      first += count;
      y += best.heights[row] + ALBUM_GAP;
    });
    return { width: ALBUM_W, height: best.height, rects };
  }

  // Rectangles {x, y, w, h} in a box ALBUM_W wide, and the box's height, for photos of these
  // width/height ratios, in order.
  function albumLayout(ratios) {
    const n = ratios.length;
    const W = ALBUM_W;
    const gap = ALBUM_GAP;
    if (n === 1) {
      // The first photo of an album that is still arriving, or the one left after deletions.
      const h = W / clamp(ratios[0], 0.5, 2.5);
      return { width: W, height: h, rects: [{ x: 0, y: 0, w: W, h }] };
    }
    if (n >= 5 || ratios.some((r) => r > 2)) return rowsLayout(ratios);
    const shapes = ratios.map(shapeOf).join("");
    const average = total(ratios) / n;
    const rects = [];
    if (n === 2) {
      const [a, b] = ratios;
      if (shapes === "ww" && average > 1.4 && Math.abs(a - b) < 0.2) {
        // Two wide photos of one shape: one above the other, each across the width.
        const h = Math.min(W / a, W / b, (W - gap) / 2);
        return { width: W, height: 2 * h + gap, rects: [
          { x: 0, y: 0, w: W, h }, { x: 0, y: h + gap, w: W, h }] };
      }
      if (shapes === "ww" || shapes === "qq") {
        // Two alike: two equal halves.
        const half = (W - gap) / 2;
        const h = Math.min(half / a, half / b, W);
        return { width: W, height: h, rects: [
          { x: 0, y: 0, w: half, h }, { x: half + gap, y: 0, w: W - half - gap, h }] };
      }
      // Two different shapes side by side at one height, each as wide as its shape asks,
      // neither under 40 % of the width.
      const [wa, wb] = cut(W - gap, ratios, (W - gap) * 0.4);
      const h = Math.min(W, wa / a, wb / b);
      return { width: W, height: h, rects: [
        { x: 0, y: 0, w: wa, h }, { x: wa + gap, y: 0, w: wb, h }] };
    }
    if (n === 3) {
      const [a, b, c] = ratios;
      if (shapes[0] === "n") {
        // A tall first photo on the left, the other two one above the other on its right.
        const H = W;
        const right = clamp((H - gap) / (1 / b + 1 / c), TILE_MIN, (W - gap) / 2);
        const left = W - gap - right;
        rects[0] = { x: 0, y: 0, w: left, h: H };
        columnOf(rects, 1, [1 / b, 1 / c], left + gap, right, H);
        return { width: W, height: H, rects };
      }
      // The first across the top, the other two side by side under it.
      const top = Math.min(W / a, (W - gap) * 0.66);
      const half = (W - gap) / 2;
      const bottom = Math.max(TILE_MIN, Math.min(W - top - gap, half / b, half / c));
      return { width: W, height: top + gap + bottom, rects: [
        { x: 0, y: 0, w: W, h: top },
        { x: 0, y: top + gap, w: half, h: bottom },
        { x: half + gap, y: top + gap, w: W - half - gap, h: bottom }] };
    }
    // Four.
    const [a, ...rest] = ratios;
    if (shapes[0] === "w") {
      // A wide first photo across the top, the other three in a row under it.
      const top = Math.min(W / a, (W - gap) * 0.66);
      const low = (W - 2 * gap) / total(rest);
      const bottom = Math.max(TILE_MIN, Math.min(W - top - gap, low));
      rects[0] = { x: 0, y: 0, w: W, h: top };
      rowOf(rects, 1, rest, top + gap, bottom);
      return { width: W, height: top + gap + bottom, rects };
    }
    // The first large on the left, the other three one above the other on its right.
    const H = W;
    const left = Math.min(H * a, (W - gap) * 0.6);
    rects[0] = { x: 0, y: 0, w: left, h: H };
    columnOf(rects, 1, rest.map((r) => 1 / r), left + gap, W - gap - left, H);
    return { width: W, height: H, rects };
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

  // Width / height of a message's picture, from the sizes Telegram sends with it.
  function ratioOf(message) {
    let size = null;
    if (message.photo) size = message.photo[message.photo.length - 1];
    else size = message.animation || message.video || message.sticker || null;
    if (!size || !(size.width > 0) || !(size.height > 0)) return 1;
    return size.width / size.height;
  }

  function image(fileId, alt) {
    const img = el("img", "media");
    img.src = fileUrl(fileId);
    img.alt = alt || "";
    img.loading = "eager";
    img.decoding = "async";
    img.addEventListener("load", () => { if (following) autoScroll(); });
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
    const link = el("a", "doc-icon");
    link.href = fileUrl(doc.file_id);
    link.download = doc.file_name || "file";
    link.title = "Download";
    link.append(icon("file"));
    const info = el("div", "doc-info");
    info.append(el("div", "doc-name", doc.file_name || "file"), el("div", "doc-size", humanSize(doc.file_size)));
    row.append(link, info);
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
    // The user's own messages carry Telegram's two ticks: the bot has received them.
    if (message.from && message.from.is_bot === false) meta.append(icon("checks"));
    return meta;
  }

  function quoteNode(reply) {
    const quote = el("div", "quote");
    quote.textContent = reply.text || reply.caption || (reply.photo ? "Photo" : "Message");
    return quote;
  }

  function keyboardNode(message, pressable = true) {
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
          a.append(icon("link"));
          line.append(a);
          continue;
        }
        const b = el("button", "kb-btn", button.text);
        b.type = "button";
        if (button.callback_data !== undefined && pressable) {
          b.addEventListener("click", () => press(message.message_id, button.callback_data, b));
        } else if (window.WebChatInline && window.WebChatInline.isSwitch(button)) {
          b.addEventListener("click", () => window.WebChatInline.pressSwitch(message, button));
        } else if (button.pay && window.WebChatPayments) {
          // payments.js: Pay opens the payment sheet.
          b.classList.add("pay");
          b.addEventListener("click", () => window.WebChatPayments.pay(message));
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

  // A lone photo or video: the bubble takes the picture's shape, between 1:2 and 5:2.
  function singleMedia(stack, bubble, message) {
    const ratio = ratioOf(message);
    const shape = clamp(ratio, 0.5, 2.5);
    stack.classList.add("media", "single");
    stack.style.setProperty("--ratio", String(shape));
    const album = el("div", "album n-1");
    album.style.aspectRatio = String(shape);
    const tile = mediaTile(message);
    album.append(tile);
    bubble.append(album);
    return album;
  }

  function drawSingle(stack, message) {
    const bubble = el("div", "bubble");
    stack.append(bubble);
    // Sent through a bot's inline mode: Telegram heads it "via @bot" (inline.js).
    if (message.via_bot && window.WebChatInline) bubble.append(window.WebChatInline.viaNode(message.via_bot));
    if (message.reply_to_message) bubble.append(quoteNode(message.reply_to_message));
    // payments.js draws invoices and the service messages of payments and refunds.
    if (window.WebChatPayments && window.WebChatPayments.draw(stack, bubble, message)) return;
    if (message.sticker) {
      bubble.classList.add("bare");
      bubble.append(stickerNode(message.sticker));
      return;
    }
    if (message.text !== undefined) {
      bubble.append(textBlock("text", message.text, message.entities, metaNode(message, false)));
      return;
    }
    // An animation message carries a "document" too (for old clients): show the animation.
    let media;
    if (message.document && !message.photo && !message.animation) {
      bubble.classList.add("file");
      media = documentRow(message.document);
      bubble.append(media);
    } else {
      bubble.classList.add("has-media");
      media = singleMedia(stack, bubble, message);
    }
    if (message.caption) {
      bubble.append(textBlock("caption", message.caption, message.caption_entities, metaNode(message, false)));
    } else {
      media.append(metaNode(message, !bubble.classList.contains("file")));
    }
  }

  function drawAlbum(stack, items) {
    const bubble = el("div", "bubble has-media");
    stack.append(bubble);
    const docs = items.every((m) => m.document && !m.photo && !m.animation);
    let album;
    if (docs) {
      bubble.classList.replace("has-media", "file");
      album = el("div", "docs");
      for (const item of items) album.append(documentRow(item.document));
    } else {
      stack.classList.add("media");
      album = el("div", `album n-${items.length}`);
      const layout = albumLayout(items.map(ratioOf));
      album.style.aspectRatio = `${layout.width} / ${layout.height}`;
      items.forEach((item, i) => {
        const tile = mediaTile(item);
        const rect = layout.rects[i];
        tile.style.left = `${(100 * rect.x) / layout.width}%`;
        tile.style.top = `${(100 * rect.y) / layout.height}%`;
        tile.style.width = `${(100 * rect.w) / layout.width}%`;
        tile.style.height = `${(100 * rect.h) / layout.height}%`;
        album.append(tile);
      });
    }
    album.dataset.count = String(items.length);
    bubble.append(album);
    const captioned = items.find((m) => m.caption);
    const last = items[items.length - 1];
    if (captioned) {
      bubble.append(textBlock("caption", captioned.caption, captioned.caption_entities, metaNode(last, false)));
    } else {
      album.append(metaNode(last, !docs));
    }
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
    // The bubble and its keyboard share one width, as in Telegram: the wider of the two.
    const stack = el("div", "stack");
    row.append(stack);
    const messages = items.map((s) => s.message);
    if (key.startsWith("g:")) drawAlbum(stack, messages);
    else drawSingle(stack, messages[0]);
    const keyboard = keyboardNode(messages[messages.length - 1]);
    if (keyboard) stack.append(keyboard);
    if (old) {
      old.replaceWith(row);
    } else {
      insertInOrder(row, ids[0]);
    }
    nodes.set(key, row);
  }

  function insertInOrder(row, firstId) {
    const list = $("messages");
    for (const child of list.querySelectorAll(":scope > .row")) {
      const childFirst = Number(child.dataset.messageIds.split(",")[0]);
      if (childFirst > firstId) { list.insertBefore(row, child); return; }
    }
    list.append(row);
  }

  function upsert(message, fromBot, live = true) {
    if (!message.chat || message.chat.id !== USER) return;
    const previous = stored.get(message.message_id);
    stored.set(message.message_id, { message, fromBot, deleted: previous ? previous.deleted : false });
    const key = keyOf(message);
    if (!keyMembers.has(key)) keyMembers.set(key, new Set());
    keyMembers.get(key).add(message.message_id);
    if (!started) setStarted(true);
    if (live && !fromBot && !previous) answerStarts(message.message_id + 1);
    draw(key);
    if (live && fromBot && !anchorKey && message.message_id >= answerFrom && message.caption
        && (message.photo || message.animation || message.video)) {
      anchorKey = key;
    }
    if (following) autoScroll();
    else showToBottom();
  }

  function removeMessage(messageId) {
    const entry = stored.get(messageId);
    if (!entry) return;
    entry.deleted = true;
    draw(keyOf(entry.message));
  }

  // ------------------------------------------------------------------ scrolling

  // The view follows new messages while the user has not scrolled away. A product card can be
  // taller than the screen (three albums, then its buttons): following it to the very bottom
  // would leave only the last photos in view, so the view stops where the card's caption (its
  // title and price) is still on screen, as Telegram keeps the first new message in view.
  let following = true;
  let anchorKey = null; // render key of the answer's captioned media, if any
  let answerFrom = Infinity; // message ids from here on answer the user's last action
  let autoTop = -1; // where the page itself last scrolled to

  function answerStarts(firstId) {
    answerFrom = firstId;
    anchorKey = null;
    following = true;
  }

  function isNearBottom() {
    const list = $("messages");
    return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  }

  function autoScroll() {
    const list = $("messages");
    let target = list.scrollHeight - list.clientHeight;
    const anchor = anchorKey && nodes.get(anchorKey);
    const caption = anchor && anchor.querySelector(".caption");
    if (caption) {
      const top = caption.getBoundingClientRect().top - list.getBoundingClientRect().top + list.scrollTop;
      target = Math.min(target, Math.max(0, top - 12));
    }
    list.scrollTop = target;
    autoTop = list.scrollTop;
    showToBottom();
  }

  function scrollToNewest() {
    anchorKey = null;
    following = true;
    autoScroll();
  }

  function showToBottom() {
    $("to-bottom").hidden = isNearBottom();
  }

  function onScroll() {
    const list = $("messages");
    if (Math.abs(list.scrollTop - autoTop) > 2) {
      // The user scrolled: follow again only once they are back at the bottom.
      anchorKey = null;
      following = isNearBottom();
      autoTop = -1;
    }
    showToBottom();
  }

  // ------------------------------------------------------------------ a new chat

  // Until the user has written, Telegram shows the bot's description and a START button in
  // place of the message field.
  function setStarted(value) {
    started = value;
    $("start-bar").hidden = started;
    $("composer").hidden = !started;
    drawIntro();
  }

  function drawIntro() {
    const list = $("messages");
    const old = list.querySelector(".intro");
    if (old) old.remove();
    if (started) return;
    const intro = el("div", "intro");
    if (profile.description) {
      const card = el("div", "intro-card");
      card.append(el("div", "intro-title", UI.whatCan));
      const text = el("div", "intro-text");
      renderEntities(text, profile.description, [], true);
      card.append(text);
      intro.append(card);
    } else {
      intro.append(el("div", "intro-empty", UI.empty));
    }
    list.append(intro);
  }

  function initials(name) {
    const words = name.trim().split(/\s+/).filter(Boolean);
    if (!words.length) return "";
    const first = Array.from(words[0])[0];
    const last = words.length > 1 ? Array.from(words[words.length - 1])[0] : "";
    return (first + last).toUpperCase();
  }

  async function loadProfile() {
    const response = await fetch(api(`/profile?language_code=${LANG}`));
    if (!response.ok) return;
    profile = await response.json();
    $("bot-name").textContent = profile.name;
    $("avatar").textContent = initials(profile.name);
    document.title = `${profile.name} · User ${USER}`;
    drawIntro();
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
    // What the bot sends now answers this press; an edit stays where it is.
    answerStarts(Math.max(0, ...stored.keys()) + 1);
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

  let statusTimer = 0;
  function showAction(action) {
    const status = $("bot-status");
    status.textContent = `${UI[action] || action}…`;
    status.classList.add("busy");
    clearTimeout(statusTimer);
    // Telegram shows a chat action for 5 seconds or until the next message.
    statusTimer = setTimeout(clearAction, 5000);
  }
  function clearAction() {
    const status = $("bot-status");
    status.textContent = UI.bot;
    status.classList.remove("busy");
  }

  // ------------------------------------------------------------------ side panel

  const narrowScreen = window.matchMedia("(max-width: 900px)");

  function panelShown() {
    const layout = $("layout");
    return narrowScreen.matches ? layout.classList.contains("panel-open") : !layout.classList.contains("panel-closed");
  }

  function showPanel(show) {
    const layout = $("layout");
    // On a phone the panel lies over the chat when opened; on a desktop it sits beside it.
    if (narrowScreen.matches) layout.classList.toggle("panel-open", show);
    else layout.classList.toggle("panel-closed", !show);
    $("panel-btn").setAttribute("aria-expanded", String(show));
  }

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

  const PROFILE_METHODS = new Set(["setmyname", "setmydescription", "setmyshortdescription"]);

  function addCall(call, live) {
    calls.total += 1;
    const method = call.method.toLowerCase();
    if (method === "getupdates") {
      // Long polls are most of the log and say little: counted, not listed.
      calls.polls += 1;
      showCallSummary();
      return;
    }
    if (live && PROFILE_METHODS.has(method) && call.ok) loadProfile();
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
        addCall(data, true);
        break;
      case "fault":
        addFault(data);
        break;
      default:
        if (window.WebChatInline) window.WebChatInline.onEvent(event);
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
      // Whatever happened while the socket was down is in the history and the profile
      // (a bot that sets its description while this page starts would otherwise stay
      // unseen until a reload: that call came before the socket, after the first fetch).
      loadHistory();
      loadProfile();
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
    if (!response.ok) return;
    const messages = await response.json();
    const fresh = stored.size === 0;
    for (const message of messages) {
      upsert(message, message.from && message.from.is_bot === true, false);
    }
    if (!started) setStarted(false);
    // A chat opens at its newest message.
    if (fresh) scrollToNewest();
  }

  async function loadCalls() {
    const response = await fetch(api("/calls"));
    if (!response.ok) return;
    for (const call of await response.json()) addCall(call, false);
  }

  // ------------------------------------------------------- hooks for inline.js and payments.js

  // Inline mode (inline.js) and payments (payments.js) act as this tab's user and draw
  // messages with this file's code. One object: each reads it when it needs it.
  window.WebChat = {
    user: USER, lang: LANG, token: () => TOKEN, api, postJSON, el, toast, fileUrl, sendText,
    // payments.js's names for the same things, and what else it draws with.
    USER, LANG, metaNode, botName: () => profile.name,
    // One message as a row of its own, for the chats no bot is in; there a callback button
    // would need an inline_message_id, which the sandbox does not route: it is inert.
    messageRow(message, outgoing) {
      const row = el("div", outgoing ? "row out" : "row in");
      const stack = el("div", "stack");
      row.append(stack);
      drawSingle(stack, message);
      const keyboard = keyboardNode(message, false);
      if (keyboard) stack.append(keyboard);
      return row;
    },
  };

  // ------------------------------------------------------------------ start

  async function start() {
    const response = await fetch(`/webchat/config?user=${USER}&lang=${LANG}`);
    const config = await response.json();
    TOKEN = config.token;
    document.documentElement.lang = LANG;
    $("text-input").placeholder = UI.message;
    $("start-btn").textContent = UI.start;
    $("menu-label").textContent = UI.menu;
    $("bot-status").textContent = UI.bot;
    // getMe's name until the profile (the name in this user's language) arrives.
    $("bot-name").textContent = config.bot.first_name;
    $("avatar").textContent = initials(config.bot.first_name);

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
      item.append(el("b", "", `/${command.command}`), el("span", "", command.description));
      item.addEventListener("click", () => { menu.hidden = true; sendText(`/${command.command}`); });
      menu.append(item);
    }
    if (!config.commands.length) $("menu-btn").hidden = true;

    $("start-btn").addEventListener("click", () => sendText("/start"));
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("text-input");
      const text = input.value;
      input.value = "";
      sendText(text);
    });
    $("file-input").addEventListener("change", async (event) => {
      // Several files picked at once go as Telegram sends an album to a bot: one message
      // each, in the order picked (each sent once the one before is in).
      const files = [...event.target.files];
      event.target.value = "";
      for (const file of files) await sendFile(file);
    });
    $("messages").addEventListener("scroll", onScroll, { passive: true });
    $("to-bottom").addEventListener("click", scrollToNewest);
    $("panel-btn").addEventListener("click", () => showPanel(!panelShown()));
    $("panel-close").addEventListener("click", () => showPanel(false));
    narrowScreen.addEventListener("change", () => $("panel-btn").setAttribute("aria-expanded", String(panelShown())));
    $("panel-btn").setAttribute("aria-expanded", String(panelShown()));

    await Promise.all([loadProfile(), loadHistory(), loadCalls()]);
    loadStats();
    setInterval(loadStats, 5000);
    connect();
    document.body.dataset.ready = "1";
  }

  start().catch((error) => toast(`The web chat could not start: ${error.message}`, true));
})();
