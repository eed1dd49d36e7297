"""/admin: the catalog admin in the chat. Admins only (ADMIN_IDS).

One router holds every admin feature (this module's menu, lists, product view and one-tap
edits; the conversations of bot/telegram/handlers/admin_forms.py; files and the audit log of
bot/telegram/handlers/admin_files.py), behind one filter on the router itself: an update from
anyone else does not enter it, so a non-admin's /admin is an unknown command like any other
and a forged admin button is a stale one (bot/telegram/handlers/fallback.py). Nothing of the
admin is shown or honoured, and a shopper's update pays one filter, not a router per feature.

Handlers translate: each one-tap edit is one repository call (bot/storage/catalog_repo.py:
one transaction, checked, audited, revision bumped), then the screen is drawn again from
the catalog reloaded on this instance (the others follow within their poll).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.media.delivery import CardDelivery
from bot.shop.catalog import Catalog
from bot.storage.catalog_repo import EditRefusedError
from bot.telegram.admin_ui import (
    AdminCb,
    CatalogAdmin,
    categories_screen,
    category_delete_screen,
    category_screen,
    delete_screen,
    menu_keyboard,
    menu_text,
    product_keyboard,
    product_text,
    products_screen,
    search,
    search_screen,
)
from bot.telegram.handlers import admin_files, admin_forms
from bot.telegram.views import send_product_card, show_in_place

# answerCallbackQuery's text holds 200 characters.
ALERT_LIMIT = 200


async def is_admin(
    _event: TelegramObject, settings: Settings, event_from_user: User | None = None
) -> bool:
    """The router's filter: the update comes from a user in ADMIN_IDS. A coroutine: aiogram
    runs a plain function filter in a worker thread (bot/telegram/filters.py)."""
    return event_from_user is not None and event_from_user.id in settings.bot.admin_ids


def alert_text(text: str) -> str:
    return text if len(text) <= ALERT_LIMIT else text[: ALERT_LIMIT - 1] + "…"


async def refused(query: CallbackQuery, exc: EditRefusedError) -> None:
    await query.answer(
        alert_text(_("Not saved: {reason}").format(reason="; ".join(exc.problems))),
        show_alert=True,
    )


async def open_menu(message: Message, state: FSMContext) -> None:
    if await state.get_state() is not None:
        # /admin in the middle of a conversation leaves it; its answers were never saved.
        await state.clear()
        await message.answer(_("The edit in progress was left; nothing of it was saved."))
    await message.answer(menu_text(), reply_markup=menu_keyboard())


async def show_product(
    *,
    bot: Bot,
    query: CallbackQuery,
    catalog: Catalog,
    catalog_admin: CatalogAdmin,
    product_id: str,
    page: int,
    locale: str,
) -> None:
    product = catalog.get_product(product_id)
    if product is None:
        await query.answer(_("This product is no longer in the catalog."), show_alert=True)
        return
    waiting = await catalog_admin.alerts.waiting(product.id)
    text = product_text(product, catalog, locale, waiting)
    await show_in_place(bot, query, text, product_keyboard(product, page))


Action = Callable[..., Awaitable[None]]


class _Screens:
    """The one-tap admin buttons, by action code (AdminCb.a)."""

    def __init__(
        self,
        query: CallbackQuery,
        data: AdminCb,
        *,
        bot: Bot,
        catalog: Catalog,
        catalog_admin: CatalogAdmin,
        delivery: CardDelivery,
        state: FSMContext,
        locale: str,
    ) -> None:
        self.query, self.data, self.bot = query, data, bot
        self.catalog, self.admin, self.delivery = catalog, catalog_admin, delivery
        self.state, self.locale = state, locale
        self.admin_id = query.from_user.id

    async def _show(self, text: str, markup: Any) -> None:
        await show_in_place(self.bot, self.query, text, markup)

    async def _product(self, catalog: Catalog | None = None) -> None:
        await show_product(
            bot=self.bot,
            query=self.query,
            catalog=catalog or self.catalog,
            catalog_admin=self.admin,
            product_id=self.data.id,
            page=self.data.page,
            locale=self.locale,
        )

    async def menu(self) -> None:
        await self.query.answer()
        await self._show(menu_text(), menu_keyboard())

    async def cats(self) -> None:
        await self.query.answer()
        await self._show(*categories_screen(self.catalog, self.data.page, self.locale))

    async def cat(self) -> None:
        category = self.catalog.get_category(self.data.id)
        if category is None:
            await self.query.answer(
                _("This category is no longer in the catalog."), show_alert=True
            )
            return
        await self.query.answer()
        await self._show(*category_screen(self.catalog, category, self.data.page))

    async def prods(self) -> None:
        category = self.catalog.get_category(self.data.id)
        if category is None:
            await self.query.answer(
                _("This category is no longer in the catalog."), show_alert=True
            )
            return
        await self.query.answer()
        await self._show(*products_screen(self.catalog, category, self.data.page, self.locale))

    async def res(self) -> None:
        query = str((await self.state.get_data()).get("search") or "")
        await self.query.answer()
        found = search(self.catalog, query)
        await self._show(*search_screen(self.catalog, query, found, self.data.page, self.locale))

    async def p(self) -> None:
        await self.query.answer()
        await self._product()

    async def pv(self) -> None:
        """The card exactly as a shopper gets it (hidden or not), through the same delivery."""
        product = self.catalog.get_product(self.data.id)
        message = self.query.message
        if product is None or message is None:
            await self.query.answer(_("This product is no longer in the catalog."), show_alert=True)
            return
        await self.query.answer(_("The card as shoppers see it:"))
        await send_product_card(
            self.bot, message.chat.id, product, page=0, locale=self.locale, delivery=self.delivery
        )

    async def st(self) -> None:
        try:
            edit = await self.admin.repo.add_stock(
                self.data.id, int(self.data.arg), admin_id=self.admin_id
            )
        except (EditRefusedError, ValueError) as exc:
            if isinstance(exc, EditRefusedError):
                await refused(self.query, exc)
            return
        await self.query.answer(_("Stock: {n}").format(n=edit.changes["stock"][1]))
        await self._product(await self.admin.fresh())

    async def hide(self) -> None:
        product = self.catalog.get_product(self.data.id)
        if product is None:
            await self.query.answer(_("This product is no longer in the catalog."), show_alert=True)
            return
        try:
            await self.admin.repo.update_product(
                product.id, {"active": not product.active}, admin_id=self.admin_id
            )
        except EditRefusedError as exc:
            await refused(self.query, exc)
            return
        await self.query.answer(_("Hidden from shoppers.") if product.active else _("Shown."))
        await self._product(await self.admin.fresh())

    async def mv(self) -> None:
        try:
            edit = await self.admin.repo.move_product(
                self.data.id, int(self.data.arg), admin_id=self.admin_id
            )
        except EditRefusedError as exc:
            await refused(self.query, exc)
            return
        await self.query.answer(_("Moved.") if edit else _("It is at the end already."))
        await self._product(await self.admin.fresh())

    async def delete(self) -> None:
        product = self.catalog.get_product(self.data.id)
        if product is None:
            await self.query.answer(_("This product is no longer in the catalog."), show_alert=True)
            return
        await self.query.answer()
        await self._show(*delete_screen(product, self.data.page, self.locale))

    async def delok(self) -> None:
        product = self.catalog.get_product(self.data.id)
        try:
            await self.admin.repo.delete_product(self.data.id, admin_id=self.admin_id)
        except EditRefusedError as exc:
            await refused(self.query, exc)
            return
        await self.query.answer(_("Deleted."))
        catalog = await self.admin.fresh()
        category = catalog.get_category(product.category) if product is not None else None
        if category is None:
            await self._show(*categories_screen(catalog, 0, self.locale))
        else:
            await self._show(*products_screen(catalog, category, self.data.page, self.locale))

    async def ch(self) -> None:
        category = self.catalog.get_category(self.data.id)
        if category is None:
            await self.query.answer(
                _("This category is no longer in the catalog."), show_alert=True
            )
            return
        try:
            await self.admin.repo.update_category(
                category.id, {"active": not category.active}, admin_id=self.admin_id
            )
        except EditRefusedError as exc:
            await refused(self.query, exc)
            return
        await self.query.answer(_("Hidden from shoppers.") if category.active else _("Shown."))
        await self._category(await self.admin.fresh())

    async def _category(self, catalog: Catalog) -> None:
        category = catalog.get_category(self.data.id)
        if category is not None:
            await self._show(*category_screen(catalog, category, self.data.page))

    async def cmv(self) -> None:
        try:
            edit = await self.admin.repo.move_category(
                self.data.id, int(self.data.arg), admin_id=self.admin_id
            )
        except EditRefusedError as exc:
            await refused(self.query, exc)
            return
        await self.query.answer(_("Moved.") if edit else _("It is at the end already."))
        await self._category(await self.admin.fresh())

    async def cdel(self) -> None:
        category = self.catalog.get_category(self.data.id)
        if category is None:
            await self.query.answer(
                _("This category is no longer in the catalog."), show_alert=True
            )
            return
        await self.query.answer()
        await self._show(*category_delete_screen(category, self.data.page, self.locale))

    async def cdelok(self) -> None:
        try:
            await self.admin.repo.delete_category(self.data.id, admin_id=self.admin_id)
        except EditRefusedError as exc:
            await refused(self.query, exc)
            return
        await self.query.answer(_("Deleted."))
        await self._show(*categories_screen(await self.admin.fresh(), 0, self.locale))


# Action code -> method of _Screens ("del" is a keyword's neighbour: spelled out).
_ACTIONS: dict[str, Callable[[_Screens], Awaitable[None]]] = {
    "menu": _Screens.menu,
    "cats": _Screens.cats,
    "cat": _Screens.cat,
    "prods": _Screens.prods,
    "res": _Screens.res,
    "p": _Screens.p,
    "pv": _Screens.pv,
    "st": _Screens.st,
    "hide": _Screens.hide,
    "mv": _Screens.mv,
    "del": _Screens.delete,
    "delok": _Screens.delok,
    "ch": _Screens.ch,
    "cmv": _Screens.cmv,
    "cdel": _Screens.cdel,
    "cdelok": _Screens.cdelok,
}


async def on_button(
    query: CallbackQuery,
    *,
    callback_data: AdminCb,
    bot: Bot,
    catalog: Catalog,
    catalog_admin: CatalogAdmin,
    delivery: CardDelivery,
    state: FSMContext,
    locale: str,
) -> None:
    action = _ACTIONS.get(callback_data.a)
    if action is None:
        await query.answer(_("Sorry, this button is out of date. Send /start."), show_alert=True)
        return
    screens = _Screens(
        query,
        callback_data,
        bot=bot,
        catalog=catalog,
        catalog_admin=catalog_admin,
        delivery=delivery,
        state=state,
        locale=locale,
    )
    await action(screens)


def create_router() -> Router:
    router = Router(name=__name__)
    # Every admin feature sits under this router: its filter is the one gate.
    for observer in (router.message, router.callback_query):
        observer.filter(is_admin)
    router.message.register(open_menu, Command("admin"), StateFilter("*"))
    router.callback_query.register(on_button, AdminCb.filter(F.a.in_(set(_ACTIONS))))
    router.include_routers(admin_forms.create_router(), admin_files.create_router())
    return router
