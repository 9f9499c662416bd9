"""The WeChat API: the client, its transport, and the client of one configured account."""
