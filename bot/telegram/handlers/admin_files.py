"""Catalog files in the chat, and the audit log: admins only (bot/telegram/handlers/admin_catalog.py
holds the gate).

An admin sends a .json or .csv document: the bot reads it with the command line's code
(bot/shop/exchange.py ``parse_catalog``, the same parse as ``python main.py catalog import``),
answers with the dry run of ``CatalogRepository.replace`` (added, changed, removed) or with
every error of the file (row and field), and offers Apply and Cancel. Apply reads the file
again from Telegram (the FSM holds its file_id, not its bytes) and replaces the catalog in
one transaction, unless the catalog moved since the summary was shown: then the new summary
is shown instead, to be applied again. A file with an error changes nothing.

``/export`` sends the catalog as stored (``{static}`` kept, the bot's own photos as
``tg:<file_id>``) as JSON; ``/export csv`` as CSV. ``/audit`` shows the latest edits.
"""

from __future__ import annotations

import html
import io
import secrets
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from bot.shop.catalog import Catalog, CatalogError
from bot.shop.diff import CatalogDiff
from bot.shop.exchange import dump_csv, dump_json, parse_catalog
from bot.storage.catalog_repo import Replaced
from bot.telegram.admin_ui import AdminCb, CatalogAdmin, audit_text, button, rows

# getFile serves files up to 20 MB (https://core.telegram.org/bots/api#getfile).
MAX_FILE_BYTES = 20 * 1024 * 1024
# Errors listed in one answer; the rest are counted (a message holds 4096 characters).
SHOWN_ERRORS = 15
ERROR_LINE = 200


class ImportForm(StatesGroup):
    confirm = State()


class ImportCb(CallbackData, prefix="aimp"):
    a: str  # apply | cancel
    n: str  # the pending import's nonce


def _errors_text(exc: CatalogError) -> str:
    lines = [
        html.escape(p if len(p) <= ERROR_LINE else p[:ERROR_LINE] + "…")
        for p in exc.problems[:SHOWN_ERRORS]
    ]
    more = len(exc.problems) - SHOWN_ERRORS
    if more > 0:
        lines.append(_("…and {n} more.").format(n=more))
    head = _("The file cannot be imported; nothing was changed. Problems ({n}):").format(
        n=len(exc.problems)
    )
    return head + "\n" + "\n".join(f"• {line}" for line in lines)


def _summary(diff: CatalogDiff) -> str:
    return "\n".join(f"• {html.escape(line)}" for line in diff.summary())


async def _read(bot: Bot, file_id: str, name: str) -> Catalog:
    """The catalog in the admin's file, downloaded from Telegram; CatalogError when the file
    cannot be had or read."""
    out = io.BytesIO()
    try:
        await bot.download(file_id, destination=out)
    except Exception as exc:
        raise CatalogError(name, [f"the file could not be downloaded: {exc}"]) from exc
    return parse_catalog(out.getvalue(), name=name)


def _confirm_markup(nonce: str) -> InlineKeyboardMarkup:
    return rows(
        [
            button(_("✅ Apply"), ImportCb(a="apply", n=nonce)),
            button(_("✖️ Cancel"), ImportCb(a="cancel", n=nonce)),
        ]
    )


async def on_document(
    message: Message, bot: Bot, state: FSMContext, catalog_admin: CatalogAdmin
) -> None:
    document = message.document
    if document is None:
        return
    name = document.file_name or "catalog"
    if not name.lower().endswith((".json", ".csv")):
        await message.answer(_("Send a catalog as a .json or .csv file to import it."))
        return
    if document.file_size is not None and document.file_size > MAX_FILE_BYTES:
        await message.answer(_("The file is larger than 20 MB: Telegram does not hand it to bots."))
        return
    try:
        new = await _read(bot, document.file_id, name)
    except CatalogError as exc:
        await state.clear()
        await message.answer(_errors_text(exc))
        return
    done = await catalog_admin.repo.replace(new, dry_run=True)
    if not done.diff:
        await state.clear()
        await message.answer(_("The file holds the catalog as it is: nothing to change."))
        return
    nonce = secrets.token_hex(3)
    await state.set_state(ImportForm.confirm)
    await state.set_data(
        {"file_id": document.file_id, "name": name, "revision": done.revision, "nonce": nonce}
    )
    text = _("Importing {name} would:").format(name=html.escape(name)) + "\n" + _summary(done.diff)
    await message.answer(text, reply_markup=_confirm_markup(nonce))


async def on_import_button(
    query: CallbackQuery,
    callback_data: ImportCb,
    bot: Bot,
    state: FSMContext,
    catalog_admin: CatalogAdmin,
) -> None:
    data = await state.get_data()
    message = query.message
    if message is None or data.get("nonce") != callback_data.n:
        await query.answer(
            _("This import is over (applied, cancelled, or the bot restarted)."), show_alert=True
        )
        return
    await query.answer()
    if callback_data.a != "apply":
        await state.clear()
        await bot.send_message(message.chat.id, _("Import cancelled: nothing was changed."))
        return
    name = str(data["name"])
    try:
        new = await _read(bot, str(data["file_id"]), name)
    except CatalogError as exc:
        await state.clear()
        await bot.send_message(message.chat.id, _errors_text(exc))
        return
    done: Replaced = await catalog_admin.repo.replace(
        new,
        admin_id=query.from_user.id,
        source=name,
        expected_revision=int(data["revision"]),
    )
    if done.stale:
        if not done.diff:
            await state.clear()
            await bot.send_message(
                message.chat.id, _("The catalog already is what the file holds: nothing to change.")
            )
            return
        await state.update_data(revision=done.revision)
        text = _("The catalog changed since that summary. Importing {name} now would:").format(
            name=html.escape(name)
        )
        await bot.send_message(
            message.chat.id,
            text + "\n" + _summary(done.diff),
            reply_markup=_confirm_markup(str(data["nonce"])),
        )
        return
    await state.clear()
    await catalog_admin.fresh()
    text = _("Imported {name}:").format(name=html.escape(name)) + "\n" + _summary(done.diff)
    await bot.send_message(message.chat.id, text)


async def export(
    message: Message, command: CommandObject, bot: Bot, catalog_admin: CatalogAdmin
) -> None:
    await _send_export(
        bot, message.chat.id, (command.args or "json").strip().lower(), catalog_admin
    )


async def export_button(
    query: CallbackQuery, callback_data: AdminCb, bot: Bot, catalog_admin: CatalogAdmin
) -> None:
    await query.answer()
    if query.message is not None:
        await _send_export(bot, query.message.chat.id, callback_data.arg, catalog_admin)


async def _send_export(bot: Bot, chat_id: int, fmt: str, catalog_admin: CatalogAdmin) -> None:
    if fmt not in {"json", "csv"}:
        await bot.send_message(chat_id, _("Export as what? /export (JSON) or /export csv."))
        return
    # As stored, not the snapshot: {static} stays, so the file imports anywhere.
    catalog = (await catalog_admin.repo.load())[1]
    data = dump_json(catalog) if fmt == "json" else dump_csv(catalog)
    name = f"catalog-{datetime.now(UTC):%Y%m%d-%H%M%S}.{fmt}"
    caption = _("The catalog: {categories} categories, {products} products.").format(
        categories=len(catalog.categories), products=len(catalog.products)
    )
    await bot.send_document(chat_id, BufferedInputFile(data, filename=name), caption=caption)


async def audit(message: Message, catalog_admin: CatalogAdmin) -> None:
    await message.answer(audit_text(await catalog_admin.repo.audit()))


async def audit_button(query: CallbackQuery, bot: Bot, catalog_admin: CatalogAdmin) -> None:
    await query.answer()
    if query.message is not None:
        await bot.send_message(query.message.chat.id, audit_text(await catalog_admin.repo.audit()))


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(audit, Command("audit"))
    router.message.register(export, Command("export"))
    router.callback_query.register(audit_button, AdminCb.filter(F.a == "audit"))
    router.callback_query.register(export_button, AdminCb.filter(F.a == "exp"))
    # A file starts an import unless a conversation is waiting for something else.
    router.message.register(on_document, F.document, StateFilter(None, ImportForm.confirm))
    router.callback_query.register(on_import_button, ImportCb.filter())
    return router
