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

from typing import Any, Callable, Iterator, Optional

from .elements import index_text  # noqa: F401 - where the graph's readers find it
from .ops import DEFAULT_AXIS, OPS

INPUT = "input"
CONST = "const"


class Node:
    """One single-assignment node.

    ``op`` is a primitive name from `gradcli.core.ops.OPS`, or ``"input"``/``"const"``.
    ``param`` holds static, hashable data (constant value, index, axis).
    """

    __slots__ = ("id", "op", "args", "name", "param", "text", "pos", "shape", "call")

    def __init__(
        self,
        id: int,
        op: str,
        args: tuple[int, ...],
        param: Any = None,
        text: str = "",
        pos: int = -1,
        shape: tuple[int, ...] = (),
    ) -> None:
        self.id = id
        self.op = op
        self.args = args
        self.name: Optional[str] = None
        self.param = param
        #: source text of a constant (exact for SymPy: "0.1", "pi")
        self.text = text
        #: offset in the program source where the node was written (-1: none)
        self.pos = pos
        self.shape = shape
        #: the inlined function call that created the node: an index into `Graph.calls`, or -1
        self.call = -1

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.op}, {self.args}, name={self.name!r})"


class Graph:
    """Nodes in evaluation order, plus the user's names, the inputs and the output."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
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
        self._memo: dict[tuple, int] = {}

    # ---- building ---------------------------------------------------------------
    def add(self, op: str, args: tuple[int, ...], param: Any = None, pos: int = -1) -> int:
        """The node ``op(args)``, reusing an identical existing node."""
        key = (op, args, param)
        found = self._memo.get(key)
        if found is not None:
            return found
        node = Node(len(self.nodes), op, args, param, pos=pos)
        node.call = self.call
        self.nodes.append(node)
        self._memo[key] = node.id
        return node.id

    def const(self, value: float, text: str, pos: int = -1) -> int:
        """A constant node; equal constants are one node (``0.0`` and ``-0.0`` are not)."""
        key = (CONST, (), value.hex() if isinstance(value, float) else value)
        found = self._memo.get(key)
        if found is not None:
            return found
        node = Node(len(self.nodes), CONST, (), value, text=text, pos=pos)
        self.nodes.append(node)
        self._memo[key] = node.id
        return node.id

    def input(self, name: str, pos: int = -1) -> int:
        """The input node called `name`, created on first use."""
        found = self.names.get(name)
        if found is not None:
            return found
        node = Node(len(self.nodes), INPUT, (), name, pos=pos)
        node.name = name
        self.nodes.append(node)
        self.names[name] = node.id
        self.inputs.append(node.id)
        return node.id

    # ---- reading ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def label(self, i: int) -> str:
        """How node `i` is referred to: its name, or a constant's text."""
        node = self.nodes[i]
        if node.name is not None:
            return node.name
        if node.op == CONST:
            return node.text
        return f"%{i}"

    def definition(self, i: int, label: Optional[Callable[[int], str]] = None) -> str:
        """Node `i`'s right-hand side in terms of its inputs' labels: ``a + b`` (`label`
        names the arguments another way, e.g. with automatic steps written out)."""
        node = self.nodes[i]
        if node.op == INPUT:
            return "input"
        if node.op == CONST:
            return node.text
        labels = [(label or self.label)(a) for a in node.args]
        op = OPS[node.op]
        if op.infix and len(labels) == 2:
            return f"{labels[0]} {op.infix} {labels[1]}"
        if node.op == "neg":
            return f"-{labels[0]}"
        if node.op == "stack":
            return f"[{', '.join(labels)}]"
        if node.op == "index":
            return f"{labels[0]}[{index_text(node.param)}]"  # type: ignore[arg-type]
        if node.op in ("amax", "amin") and node.param is None:  # max(x) of one array
            return f"{node.op[1:]}({labels[0]})"
        if isinstance(node.param, tuple):  # reshape(x, 2, 3), zeros(2, 3)
            labels.extend(map(str, node.param))
        elif node.param is not None and node.param != DEFAULT_AXIS.get(node.op):
            labels.append(str(node.param))
        return f"{node.op}({', '.join(labels)})"

    def depends_on_input(self) -> list[bool]:
        """For each node: does any input reach it?  (Only those get adjoints.)"""
        live = [False] * len(self.nodes)
        for node in self.nodes:
            if node.op == INPUT:
                live[node.id] = True
            elif node.args:
                for a in node.args:
                    if live[a]:
                        live[node.id] = True
                        break
        return live

    def __str__(self) -> str:
        lines = []
        for node in self.nodes:
            if node.op == CONST:
                continue
            mark = "    # output" if node.id == self.output else ""
            lines.append(f"{self.label(node.id)} = {self.definition(node.id)}{mark}")
        return "\n".join(lines)

    # ---- finishing ----------------------------------------------------------------
    def pruned(self, output: int) -> "Graph":
        """A copy holding only `output`, the nodes it depends on and the inputs, renumbered.

        Returns the graph itself when nothing is left out (the common case).
        """
        keep = [node.op == INPUT for node in self.nodes]  # every input stays (gradient 0 if unused)
        keep[output] = True
        for node in reversed(self.nodes[: output + 1]):
            if keep[node.id]:
                for a in node.args:
                    keep[a] = True
        if all(keep) and output == len(self.nodes) - 1:
            self.output = output
            self.call = -1
            return self
        new = Graph()
        remap: dict[int, int] = {}
        for node in self.nodes:
            if not keep[node.id]:
                continue
            remap[node.id] = len(new.nodes)
            node_copy = Node(
                len(new.nodes), node.op, tuple(remap[a] for a in node.args),
                node.param, node.text, node.pos, node.shape,
            )
            node_copy.name = node.name
            node_copy.call = node.call
            new.nodes.append(node_copy)
            if node.op == INPUT:
                new.inputs.append(node_copy.id)
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
        anonymous = [n for n in self.nodes if n.name is None and n.op != CONST]
        if self.calls and anonymous:
            anonymous = self._name_call_nodes(anonymous)
        if not anonymous:
            return
        used = set(self.names) | {n.name for n in self.nodes if n.name is not None}
        letters = "abcdefghijklmnopqrstuvw"
        singles = [name for name in (self.nodes[i].name for i in self.inputs) if name and name in _LETTERS]
        start = letters.index(max(singles)) + 1 if singles else 0
        ordered = letters[start:] + letters[:start]
        avoid = _look_alikes(used)
        free = [ch for ch in ordered if ch not in avoid]
        if len(free) < len(anonymous):
            free = []
            k = 1
            while len(free) < len(anonymous):
                if f"t{k}" not in used:
                    free.append(f"t{k}")
                k += 1
        names = free[:len(anonymous)]
        last = len(anonymous) - 1
        if anonymous[last].id == self.output and names[last] == "d" and len(free) > len(anonymous):
            names[last] = free[len(anonymous)]  # an output called d reads as a differential: dd/dx
        for node, name in zip(anonymous, names):
            node.name = name

    def _name_call_nodes(self, anonymous: list[Node]) -> list[Node]:
        """Name the nodes of `anonymous` that inlined calls made; return the others."""
        letters = "abcdefghijklmnopqrstuvw"
        used = [0] * len(self.calls)
        rest = []
        for node in anonymous:
            call = node.call
            if call < 0:
                rest.append(node)
                continue
            label, _, result = self.calls[call]
            if result == node.id:
                node.name = label
                continue
            k = used[call]
            used[call] = k + 1
            node.name = f"{label}.{letters[k] if k < len(letters) else f't{k - len(letters) + 1}'}"
        return rest

    def reached_from(self, node: int) -> list[bool]:
        """For each node: does `node` reach it (itself included)?  The steps between a node
        and the output, whose adjoints come before it in the backward sweep."""
        reach = [False] * len(self.nodes)
        reach[node] = True
        for n in self.nodes[node + 1:]:
            if any(reach[a] for a in n.args):
                reach[n.id] = True
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
