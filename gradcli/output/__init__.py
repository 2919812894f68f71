"""Rendering results: `tables` (rich renderables; never prints), `plain` (the
default table of a small scalar program written without rich, byte for byte the same), and `documents`
(the JSON and CSV documents, their schema and number encoding); `json_text` (the eval
document's node table written from the graph's columns, byte for byte json.dumps's text
of the node dicts); `terminal` (what reaches
a terminal: escaped control characters, an ASCII fallback); `html` (HTML fragments for
notebooks); `stepper` (the interactive backprop page); `plots` (matplotlib pictures of
gradients)."""
