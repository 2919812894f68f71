"""Program text to graph: `lexer` (tokens), `parser` (a Pratt parser with loops, never
recursion, giving postfix code per statement) and `lower` (postfix code to the DAG of
`gradcli.core.graph`, merging identical subexpressions); `fastlane` (the same lowering's
fast lane: a long program of plain statements goes from text to graph nodes in one pass,
anything else the general way); `calls` (built-in calls and a program's end, shared by
both); `prelude` (common losses written in the language itself,
inlined when a program calls them)."""
