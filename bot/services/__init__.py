"""Services: the logic behind the handlers (no aiogram imports where avoidable)."""
