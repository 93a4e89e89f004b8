"""The songs room's writes, one module per entity."""
