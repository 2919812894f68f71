"""Rendering results: `tables` (rich renderables; never prints) and `documents`
(the JSON and CSV documents, their schema and number encoding); `terminal` (what reaches
a terminal: escaped control characters, an ASCII fallback); `html` (HTML fragments for
notebooks); `stepper` (the interactive backprop page); `plots` (matplotlib pictures of
gradients)."""
