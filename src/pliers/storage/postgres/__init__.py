"""PostgreSQL adapters, through an asyncpg pool."""
