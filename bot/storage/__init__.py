"""Storage: the database (engine, models, migrations), Redis state, file_ids, preferences."""

import logging

# Alembic logs each of its autogenerate plugins at INFO when it is imported: seven lines of
# chatter at every start of the bot, none of them about this bot's database.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
