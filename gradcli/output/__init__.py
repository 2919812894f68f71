"""Rendering results: `tables` (rich renderables; never prints) and `documents`
(the JSON and CSV documents, their schema and number encoding)."""
