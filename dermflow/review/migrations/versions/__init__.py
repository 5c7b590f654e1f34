"""One file per schema revision; ``down_revision`` chains them. Never edit one that has shipped: add a new one."""
