// Payments in the web chat: invoice messages drawn as Telegram draws them, the payment sheet a
// Pay button opens, and the service messages of a payment and of a refund.
// app.js calls draw() for each message and pay() for a Pay button; an invoice link
// (https://t.me/$...) in a message opens the sheet too. As in app.js, every text from the bot
// goes into the page as a text node, never through innerHTML.
"use strict";

window.WebChatPayments = (function () {
  // app.js's helpers (window.WebChat): el, api, postJSON, metaNode, USER, LANG, botName.
  const chat = () => window.WebChat;

  const TEXTS = {
    en: {
      pay: "Pay", confirmPay: "Confirm and Pay", confirmTitle: "Confirm Your Purchase",
      checkout: "Checkout", total: "Total", tip: "Tip", noTip: "No tip", paying: "Paying…",
      shipping: "Shipping address", shippingNote: "The sandbox's address; the bot's first shipping option",
      name: "Name", phone: "Phone", email: "E-mail", country: "Country (e.g. DE)", city: "City",
      street: "Address", postCode: "Post code", showOptions: "Shipping options",
      shippingMethod: "Shipping method", chooseOption: "Choose a shipping method",
      free: "Free",
      close: "Close", failed: "Payment failed",
      timeout: "The bot did not respond in time.",
      buy: (title, bot, amount) => [`Do you want to buy `, [title], ` in `, [bot], ` for `, [amount], `?`],
      paid: (amount, bot) => `You paid ${amount} to ${bot}`,
      refunded: (amount, bot) => `${bot} refunded ${amount} to you`,
    },
    ru: {
      pay: "Оплатить", confirmPay: "Подтвердить и оплатить", confirmTitle: "Подтвердите покупку",
      checkout: "Оформление заказа", total: "Итого", tip: "Чаевые", noTip: "Без чаевых",
      paying: "Оплата…", shipping: "Адрес доставки",
      shippingNote: "Адрес песочницы; первый способ доставки бота",
      name: "Имя", phone: "Телефон", email: "E-mail", country: "Страна (например, DE)",
      city: "Город", street: "Адрес", postCode: "Индекс", showOptions: "Способы доставки",
      shippingMethod: "Способ доставки", chooseOption: "Выберите способ доставки",
      free: "Бесплатно",
      close: "Закрыть", failed: "Оплата не прошла",
      timeout: "Бот не ответил вовремя.",
      buy: (title, bot, amount) => [`Купить `, [title], ` в `, [bot], ` за `, [amount], `?`],
      paid: (amount, bot) => `Вы заплатили ${amount} боту ${bot}`,
      refunded: (amount, bot) => `${bot} вернул вам ${amount}`,
    },
  };
  const words = () => TEXTS[chat().LANG] || TEXTS.en;
  const LINK_PREFIX = "https://t.me/$";

  // An amount in the currency's smallest units as Telegram's apps show it: Stars as "⭐ 25",
  // other currencies with their own digits after the point (2 for most, 0 for JPY).
  function money(currency, amount) {
    if (currency === "XTR") return `⭐ ${amount}`;
    try {
      const format = new Intl.NumberFormat(chat().LANG, { style: "currency", currency });
      return format.format(amount / 10 ** format.resolvedOptions().maximumFractionDigits);
    } catch {
      return `${amount} ${currency}`;
    }
  }

  function strong(parts) {
    // Text and [bold] pieces as nodes: a product title stays text.
    const out = [];
    for (const part of parts) out.push(Array.isArray(part) ? chat().el("b", "", part[0]) : part);
    return out;
  }

  async function getJSON(path) {
    const response = await fetch(chat().api(path));
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  // The payment form of an invoice message (its photo_url is not in the Bot API's Invoice).
  const forms = new Map();
  function messageForm(messageId) {
    if (!forms.has(messageId)) {
      forms.set(messageId, getJSON(`/users/${chat().USER}/invoices/${messageId}`));
      forms.get(messageId).catch(() => forms.delete(messageId));
    }
    return forms.get(messageId);
  }

  // ------------------------------------------------------------------ messages

  function drawInvoice(bubble, message) {
    const { el } = chat();
    const invoice = message.invoice;
    bubble.classList.add("invoice");
    const photo = el("div", "invoice-photo");
    photo.hidden = true;
    const body = el("div", "invoice-body");
    body.append(el("div", "invoice-title", invoice.title));
    body.append(el("div", "invoice-description", invoice.description));
    const price = el("div", "invoice-price");
    price.append(el("span", "invoice-amount", money(invoice.currency, invoice.total_amount)));
    price.append(chat().metaNode(message, false));
    body.append(price);
    bubble.append(photo, body);
    messageForm(message.message_id).then((form) => {
      if (!form.photo_url) return;
      const img = el("img");
      img.alt = invoice.title;
      img.addEventListener("load", () => { photo.hidden = false; });
      img.addEventListener("error", () => img.remove());
      img.src = chat().api(`/users/${chat().USER}/invoices/${message.message_id}/photo`);
      photo.append(img);
    }).catch(() => {});
  }

  function drawService(stack, bubble, text) {
    // Centred, on the chat's background, as Telegram shows what happened in a chat.
    stack.parentNode.classList.add("service");
    bubble.classList.add("service-bubble");
    bubble.append(chat().el("span", "service-text", text));
  }

  // Draws the message if it is one of ours; false for app.js to draw it.
  function draw(stack, bubble, message) {
    const bot = chat().botName();
    if (message.invoice) {
      drawInvoice(bubble, message);
      return true;
    }
    if (message.successful_payment) {
      const p = message.successful_payment;
      drawService(stack, bubble, words().paid(money(p.currency, p.total_amount), bot));
      return true;
    }
    if (message.refunded_payment) {
      const p = message.refunded_payment;
      drawService(stack, bubble, words().refunded(money(p.currency, p.total_amount), bot));
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ the payment sheet

  let open = null; // {overlay, onKey}

  function closeSheet() {
    if (!open) return;
    open.overlay.remove();
    document.removeEventListener("keydown", open.onKey);
    open = null;
  }

  function addressLine(address) {
    return [address.street_line1, address.city, address.post_code, address.country_code]
      .filter(Boolean).join(", ");
  }

  // The sheet being shown: how to read its details, where its errors go.
  const sheet = { details: null, error: null };

  // The buyer's details the invoice asks for (name, phone, e-mail, the address) and, for a
  // flexible invoice, the "Shipping options" button: the sandbox asks the bot (a
  // shipping_query) and the answer's options are offered with their prices.
  function detailsForm(form, target, onValidated, onChoose) {
    const { el } = chat();
    const t = words();
    const box = el("div", "pay-details");
    const fields = {};
    const input = (key, label, value, type = "text") => {
      const field = el("label", "pay-field");
      const control = el("input", "pay-input");
      control.type = type;
      control.name = key;
      control.value = value || "";
      control.addEventListener("input", () => onValidated(null));
      field.append(el("span", "pay-field-label", label), control);
      box.append(field);
      fields[key] = control;
    };
    const user = `User ${chat().USER}`;
    if (form.need_name) input("name", t.name, user);
    if (form.need_phone_number) input("phone_number", t.phone, "", "tel");
    if (form.need_email) input("email", t.email, "", "email");
    const address = form.shipping_address || {};
    if (form.need_shipping_address) {
      box.append(el("div", "pay-shipping-label", t.shipping));
      input("country_code", t.country, address.country_code);
      input("city", t.city, address.city);
      input("street_line1", t.street, address.street_line1);
      input("post_code", t.postCode, address.post_code);
    }
    const details = () => {
      const value = (key) => (fields[key] ? fields[key].value.trim() : "");
      const out = {};
      const info = {};
      for (const key of ["name", "phone_number", "email"]) if (fields[key] && value(key)) info[key] = value(key);
      if (Object.keys(info).length) out.order_info = info;
      if (form.need_shipping_address) {
        out.shipping_address = {
          country_code: value("country_code").toUpperCase(), state: "", city: value("city"),
          street_line1: value("street_line1"), street_line2: "", post_code: value("post_code"),
        };
      }
      return out;
    };
    sheet.details = details;
    if (!form.is_flexible) return box;
    const options = el("div", "pay-options");
    const ask = el("button", "pay-ask", t.showOptions);
    ask.type = "button";
    ask.addEventListener("click", async () => {
      ask.disabled = true;
      options.textContent = "";
      sheet.error.hidden = true;
      try {
        const answer = await chat().postJSON(`${target.formPath}/shipping`, {
          ...details(), language_code: chat().LANG, first_name: user,
        });
        if (!answer.ok) {
          sheet.error.textContent = answer.status === "timeout"
            ? `${t.timeout} (${answer.error_message})` : answer.error_message;
          sheet.error.hidden = false;
          onValidated(null);
          return;
        }
        onValidated(answer);
        for (const option of answer.shipping_options) {
          const price = option.amount ? money(form.currency, option.amount) : t.free;
          const choice = el("button", "pay-option");
          choice.type = "button";
          choice.dataset.option = option.id;
          choice.append(el("span", "", option.title), el("span", "pay-line-amount", price));
          choice.addEventListener("click", () => {
            for (const other of options.querySelectorAll(".pay-option")) other.classList.toggle("chosen", other === choice);
            onChoose(option);
          });
          options.append(choice);
        }
      } catch (failure) {
        sheet.error.textContent = `${t.failed}: ${failure.message}`;
        sheet.error.hidden = false;
      } finally {
        ask.disabled = false;
      }
    });
    box.append(ask, options);
    return box;
  }

  function render(panel, form, target) {
    const { el } = chat();
    const t = words();
    sheet.details = null;
    const stars = form.currency === "XTR";
    panel.textContent = "";
    const close = el("button", "pay-close", "×");
    close.type = "button";
    close.title = t.close;
    close.addEventListener("click", closeSheet);
    panel.append(close);
    if (form.photo_url) {
      const img = el("img", "pay-photo");
      img.alt = form.title;
      img.addEventListener("error", () => img.remove());
      img.src = chat().api(target.photoPath);
      panel.append(img);
    }
    panel.append(el("div", "pay-heading", stars ? t.confirmTitle : t.checkout));
    let tip = 0;
    // A flexible invoice: the bot's options for the address entered (validated on the
    // sandbox's shipping route) and the one chosen.
    let shippingAmount = 0;
    let validated = null; // {requested_info_id, shipping_options}
    let chosen = null;
    const total = () => form.total_amount + tip + shippingAmount;
    const confirm = el("button", "pay-confirm");
    confirm.type = "button";
    const label = () => `${stars ? t.confirmPay : t.pay} ${money(form.currency, total())}`;
    const totalAmount = el("span", "pay-line-amount");
    const shippingLine = el("div", "pay-line pay-shipping-line");
    shippingLine.hidden = true;
    const shippingAmountNode = el("span", "pay-line-amount");
    shippingLine.append(el("span", "", t.shippingMethod), shippingAmountNode);
    const flexible = form.is_flexible && target.body.message_id !== undefined;
    const refresh = () => {
      confirm.textContent = flexible && !chosen ? t.chooseOption : label();
      confirm.disabled = flexible && !chosen;
      totalAmount.textContent = money(form.currency, total());
      shippingLine.hidden = !chosen;
      shippingAmountNode.textContent = chosen ? (shippingAmount ? money(form.currency, shippingAmount) : t.free) : "";
    };
    if (stars) {
      const question = el("p", "pay-question");
      question.append(...strong(t.buy(form.title, form.bot_name, money(form.currency, total()))));
      panel.append(question);
    } else {
      panel.append(el("div", "pay-title", form.title), el("div", "pay-description", form.description));
      const lines = el("div", "pay-lines");
      for (const price of form.prices) {
        const line = el("div", "pay-line");
        line.append(el("span", "", price.label), el("span", "pay-line-amount", money(form.currency, price.amount)));
        lines.append(line);
      }
      if (form.max_tip_amount > 0) {
        const tips = el("div", "pay-tips");
        tips.append(el("span", "pay-tips-label", t.tip));
        for (const amount of [0, ...form.suggested_tip_amounts]) {
          const choice = el("button", "pay-tip", amount ? money(form.currency, amount) : t.noTip);
          choice.type = "button";
          choice.classList.toggle("chosen", amount === 0);
          choice.addEventListener("click", () => {
            tip = amount;
            for (const other of tips.querySelectorAll(".pay-tip")) other.classList.toggle("chosen", other === choice);
            refresh();
          });
          tips.append(choice);
        }
        lines.append(tips);
      }
      if (flexible) lines.append(shippingLine);
      const totalLine = el("div", "pay-line pay-total");
      totalLine.append(el("span", "", t.total), totalAmount);
      lines.append(totalLine);
      panel.append(lines);
      if (target.body.message_id !== undefined && (form.need_shipping_address || form.need_name
          || form.need_phone_number || form.need_email)) {
        panel.append(detailsForm(form, target, (answer) => {
          // New details: the options shown before no longer hold.
          validated = answer;
          chosen = null;
          shippingAmount = 0;
          refresh();
        }, (option) => {
          chosen = option;
          shippingAmount = option.amount;
          refresh();
        }));
      } else if (form.need_shipping_address) {
        const shipping = el("div", "pay-shipping");
        shipping.append(el("div", "pay-shipping-label", t.shipping),
          el("div", "", addressLine(form.shipping_address || {})),
          el("div", "pay-hint", t.shippingNote));
        panel.append(shipping);
      }
    }
    const error = el("div", "pay-error");
    error.hidden = true;
    error.setAttribute("role", "alert");
    sheet.error = error;
    refresh();
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      confirm.textContent = t.paying;
      error.hidden = true;
      const body = { ...target.body, language_code: chat().LANG, first_name: `User ${chat().USER}` };
      if (tip) body.tip_amount = tip;
      if (sheet.details) Object.assign(body, sheet.details());
      if (validated) body.requested_info_id = validated.requested_info_id;
      if (chosen) body.shipping_option_id = chosen.id;
      try {
        const outcome = await chat().postJSON(`/users/${chat().USER}/payments`, body);
        if (outcome.ok) {
          forms.delete(target.body.message_id);
          closeSheet();
          return;
        }
        // Telegram shows the bot's own words when it refuses at pre-checkout or shipping.
        error.textContent = outcome.status === "timeout"
          ? `${t.timeout} (${outcome.error_message})` : outcome.error_message;
      } catch (failure) {
        error.textContent = `${t.failed}: ${failure.message}`;
      }
      error.hidden = false;
      confirm.disabled = false;
      refresh();
    });
    panel.append(error, confirm);
  }

  async function openSheet(target) {
    closeSheet();
    const { el } = chat();
    const overlay = el("div", "pay-overlay");
    const panel = el("div", "pay-sheet");
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "true");
    panel.append(el("div", "pay-loading", "…"));
    overlay.append(panel);
    overlay.addEventListener("click", (event) => { if (event.target === overlay) closeSheet(); });
    const onKey = (event) => { if (event.key === "Escape") closeSheet(); };
    document.addEventListener("keydown", onKey);
    document.querySelector(".chat").append(overlay);
    open = { overlay, onKey };
    try {
      render(panel, await getJSON(target.formPath), target);
    } catch (failure) {
      panel.textContent = "";
      panel.append(el("div", "pay-error", `${words().failed}: ${failure.message}`));
    }
  }

  // A Pay button of an invoice message.
  function pay(message) {
    const base = `/users/${chat().USER}/invoices/${message.message_id}`;
    openSheet({ formPath: base, photoPath: `${base}/photo`, body: { message_id: message.message_id } });
  }

  // An invoice link in a message: Telegram opens the same sheet.
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element && event.target.closest("a[href]");
    const href = link && link.getAttribute("href");
    if (!href || !href.startsWith(LINK_PREFIX) || !window.WebChat) return;
    event.preventDefault();
    const slug = encodeURIComponent(href.slice(LINK_PREFIX.length));
    openSheet({
      formPath: `/invoice-links/${slug}`, photoPath: `/invoice-links/${slug}/photo`, body: { invoice_link: href },
    });
  }, true);

  return { draw, pay, money };
})();
