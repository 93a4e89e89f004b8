"""The training room's writes, one module per entity."""
