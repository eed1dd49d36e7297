"""FSM states of the shoppers' conversations (the admin's are in handlers/admin_forms.py)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class DeliveryForm(StatesGroup):
    """Pay on delivery (bot/telegram/handlers/delivery_form.py): one state per question."""

    name = State()
    phone = State()
    country = State()
    city = State()
    street = State()
    post_code = State()
    shipping = State()
    summary = State()
