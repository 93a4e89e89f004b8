"""The generations room's writes, one module per entity."""
