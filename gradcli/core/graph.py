"""The computational DAG: an ordered list of single-assignment nodes.

Node ``i`` only reads nodes ``< i``, so the list is topological by construction and
every walk (forward, backward, printing, SymPy translation) is a plain loop.  Adding a
node that already exists -- same operation, same arguments, same parameter -- returns
the existing one (hash-consing), so ``exp(x^2)*x^2`` computes ``x^2`` once.

``str(graph)`` prints the program the way the lecture notes write it::

    a = input
    b = input
    c = a + b
    d = b + 1
    e = c * d          # output
"""

from __future__ import annotations

import operator
from array import array
from collections import deque
from itertools import filterfalse
from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence

from .elements import index_text  # noqa: F401 - where the graph's readers find it
from .ops import DEFAULT_AXIS, OPS

INPUT = "input"
CONST = "const"

class Kept(NamedTuple):
    """What a graph's builder kept for compiling it, having made it anyway (`Graph.kept`)."""

    #: every node's argument tuple (`Graph.all_args`)
    args: list[tuple[int, ...]]
    #: does an input reach each node (`Graph.depends_on_input`)
    reached: list[bool]
    #: the nodes of two arguments an input reaches one of only, in order
    half_reached: list[int]


def positions(items: Any, value: Any) -> list[int]:
    """Where `value` is in `items`, in order: ``list.index`` in a loop, which runs at C speed
    where `value` is rare (the constants among the nodes, a dead node, an unnamed one)."""
    out: list[int] = []
    at = -1
    try:
        while True:
            at = items.index(value, at + 1)
            out.append(at)
    except ValueError:
        return out


class ConstTexts(dict):
    """`Graph.texts`: node id -> a constant's source text, and "" for any other node.  A dict of
    the constants, not a list with an entry a node (8 bytes a node, nearly all "")."""

    __slots__ = ()

    def __missing__(self, key: int) -> str:
        return ""


class Node:
    """A view of node `id` of a graph: reads and writes go to the graph's arrays.

    ``op`` is a primitive name from `gradcli.core.ops.OPS`, or ``"input"``/``"const"``.
    ``param`` holds static, hashable data (constant value, index, axis).  Views are made
    on access (``graph.nodes[i]``) and compare equal when they show the same node.
    """

    __slots__ = ("graph", "id")

    def __init__(self, graph: "Graph", id: int) -> None:
        self.graph = graph
        self.id = id

    @property
    def op(self) -> str:
        return self.graph.ops[self.id]

    @property
    def args(self) -> tuple[int, ...]:
        return self.graph.args(self.id)

    @property
    def name(self) -> Optional[str]:
        return self.graph.names_of[self.id]

    @name.setter
    def name(self, value: Optional[str]) -> None:
        self.graph.names_of[self.id] = value

    @property
    def param(self) -> Any:
        return self.graph.params[self.id]

    @property
    def text(self) -> str:
        """Source text of a constant (exact for SymPy: "0.1", "pi")."""
        return self.graph.texts[self.id]

    @property
    def pos(self) -> int:
        """Offset in the program source where the node was written (-1: none)."""
        return self.graph.positions[self.id]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.graph.shapes[self.id]

    @shape.setter
    def shape(self, value: tuple[int, ...]) -> None:
        self.graph.shapes[self.id] = value

    @property
    def call(self) -> int:
        """The inlined function call that created the node: an index into `Graph.calls`, or -1."""
        return self.graph.call_of[self.id]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other.graph is self.graph and other.id == self.id

    def __hash__(self) -> int:
        return hash((id(self.graph), self.id))

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.op}, {self.args}, name={self.name!r})"


class _Nodes:
    """``graph.nodes``: the nodes as a read-only sequence of `Node` views."""

    __slots__ = ("graph",)

    def __init__(self, graph: "Graph") -> None:
        self.graph = graph

    def __len__(self) -> int:
        return len(self.graph.ops)

    def __getitem__(self, i):
        g = self.graph
        if isinstance(i, slice):
            return [Node(g, k) for k in range(len(g.ops))[i]]
        if i < 0:
            i += len(g.ops)
        if not 0 <= i < len(g.ops):
            raise IndexError("node index out of range")
        return Node(g, i)

    def __iter__(self) -> Iterator[Node]:
        g = self.graph
        return (Node(g, k) for k in range(len(g.ops)))

    def __reversed__(self) -> Iterator[Node]:
        g = self.graph
        return (Node(g, k) for k in range(len(g.ops) - 1, -1, -1))


class Graph:
    """Nodes in evaluation order, plus the user's names, the inputs and the output.

    The nodes are stored as a structure of arrays, one entry per node in each: no
    Python object per node (a 10^6-node graph takes about 200 bytes a node).
    `graph.nodes[i]` is a `Node` view for readers that want one; hot loops read the
    arrays (`ops`, `args(i)`, `params`, ...) directly.
    """

    def __init__(self) -> None:
        #: each node's op name (interned strings: one pointer a node)
        self.ops: list[str] = []
        #: every node's argument ids, end to end; node i's are ``argv[arg_end[i-1]:arg_end[i]]``
        #: (C ints: a program is far below 2^31 nodes, arguments and characters)
        self.argv = array("i")
        self.arg_end = array("i")
        self.params: list[Any] = []
        #: each node's name (None: unnamed)
        self.names_of: list[Optional[str]] = []
        #: source text of each constant, by node id ("" for other nodes: only constants are stored)
        self.texts: ConstTexts = ConstTexts()
        #: offset in the program source where each node was written (-1: none)
        self.positions = array("i")
        self.shapes: list[tuple[int, ...]] = []
        #: the inlined call that created each node (an index into `calls`, or -1)
        self.call_of = array("i")
        #: user name -> node id (inputs, assigned names and their aliases)
        self.names: dict[str, int] = {}
        #: input node ids in order of first use
        self.inputs: list[int] = []
        self.output: int = -1
        #: the name the output is reported under
        self.output_name: str = ""
        #: inlined function calls, in the order they were made: ``[label, parent, result]``
        #: with label ``f#k`` (the k-th call of f), the index of the enclosing call (-1:
        #: the program itself) and the node the call returned (-1: pruned or none)
        self.calls: list[list] = []
        #: the call whose body is being lowered now: new computed nodes belong to it
        self.call = -1
        #: hash-consing: op -> its nodes of no parameter by argument tuple (the tuple is the one
        #: the node's arguments are kept in: a key costs no memory of its own), and the other
        #: nodes (constants, nodes with a parameter) by ``(op, args, param)``
        self._plain: dict[str, dict[tuple[int, ...], int]] = {}
        self._memo: dict = {}
        #: what the builder kept for compiling, when it made it anyway (the fast lane does); read
        #: only while it covers every node (`kept_for_compiling`), dropped by `pruned` and by the
        #: `Tape` that compiles the graph (a long program's lists are large; another Tape makes its own)
        self.kept: Optional[Kept] = None
        self._op_names: tuple[int, frozenset[str]] = (0, frozenset())

    @property
    def nodes(self) -> _Nodes:
        return _Nodes(self)

    # ---- building ---------------------------------------------------------------
    def _append(self, op: str, args: tuple[int, ...], param: Any, text: str, pos: int, call: int) -> int:
        i = len(self.ops)
        self.ops.append(op)
        self.argv.extend(args)
        self.arg_end.append(len(self.argv))
        self.params.append(param)
        self.names_of.append(None)
        if text:
            self.texts[i] = text
        self.positions.append(pos)
        self.shapes.append(())
        self.call_of.append(call)
        return i

    def add(self, op: str, args: tuple[int, ...], param: Any = None, pos: int = -1) -> int:
        """The node ``op(args)``, reusing an identical existing node."""
        if param is None:
            if type(args) is not tuple:
                args = tuple(args)
            memo = self._plain.get(op)
            if memo is None:
                memo = self._plain[op] = {}
            key: Any = args
        else:
            memo = self._memo
            key = (op, args, param)
        found = memo.get(key)
        if found is not None:
            return found
        # `_append`, written out: this is the hot path of lowering
        i = len(self.ops)
        self.ops.append(op)
        argv = self.argv
        if len(args) == 2:
            argv.append(args[0])
            argv.append(args[1])
        else:
            argv.extend(args)
        self.arg_end.append(len(argv))
        self.params.append(param)
        self.names_of.append(None)
        self.positions.append(pos)
        self.shapes.append(())
        self.call_of.append(self.call)
        memo[key] = i
        return i

    def plain_table(self, op: str) -> dict[tuple[int, ...], int]:
        """`op`'s hash-consing table of nodes of no parameter: argument tuple -> node (the fast
        lane makes nodes into it too)."""
        memo = self._plain.get(op)
        if memo is None:
            memo = self._plain[op] = {}
        return memo

    def const(self, value: float, text: str, pos: int = -1) -> int:
        """A constant node; equal constants are one node (``0.0`` and ``-0.0`` are not)."""
        key = (CONST, (), value.hex() if isinstance(value, float) else value)
        found = self._memo.get(key)
        if found is not None:
            return found
        i = self._append(CONST, (), value, text, pos, -1)
        self._memo[key] = i
        return i

    def input(self, name: str, pos: int = -1) -> int:
        """The input node called `name`, created on first use."""
        found = self.names.get(name)
        if found is not None:
            return found
        i = self._append(INPUT, (), name, "", pos, -1)
        self.names_of[i] = name
        self.names[name] = i
        self.inputs.append(i)
        return i

    # ---- reading ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def args(self, i: int) -> tuple[int, ...]:
        """Node `i`'s argument ids."""
        end = self.arg_end[i]
        start = self.arg_end[i - 1] if i else 0
        if end == start:
            return ()
        if end - start == 1:
            return (self.argv[start],)
        return tuple(self.argv[start:end])

    def all_args(self, ids: Optional[Sequence[int]] = None) -> list[tuple[int, ...]]:
        """Every node's argument ids, in one pass (for compiling the graph).  With `ids`
        (``list(range(len(graph)))``), the tuples hold its int objects, one per node,
        instead of a new int for every argument."""
        kept = self.kept_for_compiling()
        if kept is not None:
            return kept.args
        argv, out, start = self.argv, [], 0
        if ids is not None:
            argv = [ids[a] for a in argv]  # type: ignore[assignment]
        empty: tuple = ()
        for end in self.arg_end:
            n = end - start
            out.append(empty if not n else (argv[start],) if n == 1 else (argv[start], argv[start + 1]) if n == 2
                       else tuple(argv[start:end]))
            start = end
        return out

    def op_names(self) -> frozenset[str]:
        """The distinct ops of the nodes (one scan, kept until a node is added: several readers
        ask, and a long program's scan is not free)."""
        if self._op_names[0] != len(self.ops):
            self._op_names = (len(self.ops), frozenset(self.ops))
        return self._op_names[1]

    def kept_for_compiling(self) -> Optional["Kept"]:
        """`kept`, if it covers every node (no node was added after it)."""
        kept = self.kept
        return kept if kept is not None and len(kept.args) == len(self.ops) else None

    def label(self, i: int) -> str:
        """How node `i` is referred to: its name, or a constant's text."""
        name = self.names_of[i]
        if name is not None:
            return name
        if self.ops[i] == CONST:
            return self.texts[i]
        return f"%{i}"

    def definition(self, i: int, label: Optional[Callable[[int], str]] = None) -> str:
        """Node `i`'s right-hand side in terms of its inputs' labels: ``a + b`` (`label`
        names the arguments another way, e.g. with automatic steps written out)."""
        op_name = self.ops[i]
        if op_name == INPUT:
            return "input"
        if op_name == CONST:
            return self.texts[i]
        labels = [(label or self.label)(a) for a in self.args(i)]
        op = OPS[op_name]
        if op.infix and len(labels) == 2:
            return f"{labels[0]} {op.infix} {labels[1]}"
        if op_name == "neg":
            return f"-{labels[0]}"
        if op_name == "stack":
            return f"[{', '.join(labels)}]"
        param = self.params[i]
        if op_name == "index":
            return f"{labels[0]}[{index_text(param)}]"  # type: ignore[arg-type]
        if op_name == "gather":  # x[idx]: an integer array idx
            return f"{labels[0]}[{labels[1]}]"
        if op_name in ("amax", "amin") and param is None:  # max(x) of one array
            return f"{op_name[1:]}({labels[0]})"
        if isinstance(param, tuple):  # reshape(x, 2, 3), zeros(2, 3)
            labels.extend(map(str, param))
        elif param is not None and param != DEFAULT_AXIS.get(op_name):
            labels.append(str(param))
        return f"{op_name}({', '.join(labels)})"

    def depends_on_input(self, all_args: Optional[list[tuple[int, ...]]] = None,
                         compact: bool = False) -> Any:
        """For each node: does any input reach it?  (Only those get adjoints.)  `all_args`:
        `all_args()`, if the caller has it.  A list of bools, or with `compact` a bytearray
        of 0 and 1 (a byte a node, not a pointer; slower to fill and read)."""
        kept = self.kept_for_compiling()
        if kept is not None:
            return bytearray(kept.reached) if compact else kept.reached
        live: Any = bytearray(len(self.ops)) if compact else [False] * len(self.ops)
        for i, (op, args) in enumerate(zip(self.ops, all_args or self.all_args())):
            if op == INPUT:
                live[i] = True
            else:
                for a in args:
                    if live[a]:
                        live[i] = True
                        break
        return live

    def __str__(self) -> str:
        lines = []
        for i, op in enumerate(self.ops):
            if op == CONST:
                continue
            mark = "    # output" if i == self.output else ""
            lines.append(f"{self.label(i)} = {self.definition(i)}{mark}")
        return "\n".join(lines)

    # ---- finishing ----------------------------------------------------------------
    def pruned(self, output: int) -> "Graph":
        """A copy holding only `output`, the nodes it depends on and the inputs, renumbered.

        Returns the graph itself when nothing is left out (the common case).  Either way
        this graph's hash-consing ends: nodes are no longer added to it.
        """
        argv, arg_end = self.argv, self.arg_end
        self._memo, self._plain = {}, {}  # the graph is finished: hash-consing is over (freed first: a long
        # program's is large)
        if output == len(self.ops) - 1:
            # every node the last one and nothing else: each other node is an argument or an
            # input (the largest node the output did not reach would be an argument of a
            # larger one, which it reached).  A byte a node, not a set of ints.
            used = bytearray(len(self.ops))
            for a in argv:
                used[a] = 1
            for a in self.inputs:
                used[a] = 1
            used[output] = 1
            if used.count(0) == 0:
                self.output = output
                self.call = -1
                return self
        keep = [op == INPUT for op in self.ops]  # every input stays (gradient 0 if unused)
        keep[output] = True
        for i in range(output, -1, -1):
            if keep[i]:
                for k in range(arg_end[i - 1] if i else 0, arg_end[i]):
                    keep[argv[k]] = True
        if all(keep) and output == len(self.ops) - 1:
            self.output = output
            self.call = -1
            return self
        self.kept = None  # the ids are renumbered (and this graph is dropped)
        new = Graph()
        remap: dict[int, int] = {}
        for i, op in enumerate(self.ops):
            if not keep[i]:
                continue
            j = new._append(op, tuple(remap[a] for a in self.args(i)), self.params[i], self.texts[i],
                            self.positions[i], self.call_of[i])
            remap[i] = j
            new.names_of[j] = self.names_of[i]
            new.shapes[j] = self.shapes[i]
            if op == INPUT:
                new.inputs.append(j)
        new.names = {name: remap[i] for name, i in self.names.items() if i in remap}
        new.output = remap[output]
        new.calls = [[label, parent, remap.get(result, -1)] for label, parent, result in self.calls]
        return new

    def name_anonymous_nodes(self) -> None:
        """Give every unnamed computed node a short name, as the lecture notes do.

        ``(a+b)*(b+1)`` gets ``c = a + b``, ``d = b + 1``, ``e = c * d``: letters
        continue after the last single-letter *input* (so ``f = (x+y)*max(y,z)`` gets
        ``a = x + y``, ``b = max(y, z)``, as in the notes, whatever the output is
        called), and never x, y, z, which read as inputs.  A letter is skipped when it
        is a name in use or looks like one: ``a`` beside ``A``, ``v`` or ``w`` beside
        ``W``, ``b`` beside ``b1`` or ``b_out`` (see `_look_alikes`).  When letters run out: t1, t2, ...

        A node made inside an inlined call is named after the call instead: the value
        the call returns is ``cell#2`` (unless a step names it), the others
        ``cell#2.a``, ``cell#2.b``, ... in order.
        """
        names_of, ops = self.names_of, self.ops
        anonymous = [i for i, name in enumerate(names_of) if name is None and ops[i] != CONST]
        if self.calls and anonymous:
            anonymous = self._name_call_nodes(anonymous)
        if not anonymous:
            return
        used = set(names_of)  # a set made in C, not a comprehension over every node
        used.discard(None)
        used.update(self.names)
        letters = "abcdefghijklmnopqrstuvw"
        free = []
        if len(anonymous) <= len(letters):  # else the letters cannot do
            singles = [name for name in (names_of[i] for i in self.inputs) if name and name in _LETTERS]
            start = letters.index(max(singles)) + 1 if singles else 0
            ordered = letters[start:] + letters[:start]
            avoid = _avoided_letters(used)
            free = [ch for ch in ordered if ch not in avoid]
        if len(free) < len(anonymous):
            free = []
            k = 1
            while len(free) < len(anonymous):  # t1, t2, ... in bulk (in C), the used ones left out
                more = len(anonymous) - len(free)
                free.extend(filterfalse(used.__contains__, [f"t{j}" for j in range(k, k + more)]))
                k += more
        names = free[:len(anonymous)]
        last = len(anonymous) - 1
        if anonymous[last] == self.output and names[last] == "d" and len(free) > len(anonymous):
            names[last] = free[len(anonymous)]  # an output called d reads as a differential: dd/dx
        deque(map(names_of.__setitem__, anonymous, names), maxlen=0)  # names_of[i] = name, in C

    def _name_call_nodes(self, anonymous: list[int]) -> list[int]:
        """Name the nodes of `anonymous` that inlined calls made; return the others."""
        letters = "abcdefghijklmnopqrstuvw"
        used = [0] * len(self.calls)
        rest = []
        names_of, call_of = self.names_of, self.call_of
        for i in anonymous:
            call = call_of[i]
            if call < 0:
                rest.append(i)
                continue
            label, _, result = self.calls[call]
            if result == i:
                names_of[i] = label
                continue
            k = used[call]
            used[call] = k + 1
            names_of[i] = f"{label}.{letters[k] if k < len(letters) else f't{k - len(letters) + 1}'}"
        return rest

    def reached_from(self, node: int) -> list[bool]:
        """For each node: does `node` reach it (itself included)?  The steps between a node
        and the output, whose adjoints come before it in the backward sweep."""
        reach = [False] * len(self.ops)
        reach[node] = True
        for i in range(node + 1, len(self.ops)):
            if any(reach[a] for a in self.args(i)):
                reach[i] = True
        return reach

    def call_path(self, call: int) -> list[int]:
        """The calls enclosing call index `call`, outermost first, ending with it."""
        path = []
        while call >= 0:
            path.append(call)
            call = self.calls[call][1]
        return path[::-1]


_LETTERS = frozenset("abcdefghijklmnopqrstuvw")

#: letters that are easy to misread for one another in the notes' italics
_CONFUSABLE = ({"v", "w"},)


def _avoided_letters(used: set) -> set[str]:
    """The letters a-w of ``_look_alikes(used)``, without a Python loop over every name:
    what makes a name look like a letter is in its first two characters, and a long
    program's names have few distinct ones (``v1``, ``v2``, ... all begin ``v``)."""
    heads = set(map(_FIRST_TWO, used))
    keys = {head[0] for head in heads
            if len(head) == 1 or (head[0].isascii() and head[0].isalpha() and (head[1].isdigit() or head[1] == "_"))}
    return (used & _LETTERS) | (_look_alikes(keys) & _LETTERS)


_FIRST_TWO = operator.itemgetter(slice(0, 2))


def _look_alikes(used: set[str]) -> set[str]:
    """Every name in `used`, with the single letters that look like one of them:
    the other case (``a`` beside ``A``), the confusable groups (``v`` beside ``w``), and the
    first letter of a name that goes on with a digit or an underscore (``b`` beside ``b1``,
    ``W2``'s ``w``), so an automatic ``b`` never reads as a bias and ``db`` as its gradient."""
    avoid = set(used)
    for name in used:
        if len(name) > 1 and name[0].isascii() and name[0].isalpha() and (name[1].isdigit() or name[1] == "_"):
            name = name[0]  # b1, b_2, W2: a lone b or w would read as one of the family
        if len(name) != 1:
            continue
        low = name.lower()
        avoid.add(low)
        avoid.add(name.upper())
        for group in _CONFUSABLE:
            if low in group:
                avoid |= group
    return avoid
