"""The rewards room's writes, one module per entity."""
