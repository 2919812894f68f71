"""Lowering: parsed statements -> a `Graph`, by a stack machine over postfix code.

Names resolve in this order: a name assigned earlier in the program, a constant
(``pi``), otherwise an input.  Built-in function names are not reserved: ``dot = ...``
names a step and ``mean`` alone is an input; only calling such a name is an error
(it names both meanings).  A name used before a later statement assigns it, or a
name assigned twice, are errors that point at the column.  Only ``-literal`` is
folded (so ``-1`` is one constant node); every other operation on constants stays a
node, so the graph shows exactly what was written.

Functions (``def f(p, q) = EXPR``, the user's own or the prelude's,
`gradcli.language.prelude`) are inlined: a call is not a node.  Arguments are passed
*by need*: an argument's expression is lowered where the body first uses the
parameter, in the caller's scope, and reused after that.  So the graph, node order
included, is exactly the one the hand-unrolled program gives (hash-consing merges
what repeats).  Arguments the body never uses are lowered after it, so their errors
are still reported.  A body may use its parameters, the program's inputs, constants
and functions defined before it -- which makes recursion impossible.  Inlining runs
on an explicit work stack, never Python recursion, so 10^4 nested calls are fine.
Each call gets a label ``f#k`` (the k-th call of ``f``) that `Graph` keeps as the
provenance of the nodes it creates.
"""

from __future__ import annotations

from typing import Callable, Iterator, NamedTuple, Optional

from ..core.errors import ParseError
from ..core.graph import CONST, INPUT, Graph
from ..core.ops import BINARY_OPS, CONSTANTS, FUNCTIONS
from . import prelude
from . import calls
from .parser import Item, Program, Statement, parse, statements

#: most postfix items that inlining may run through (a guard against definitions that
#: call each other in a way that grows exponentially, e.g. f2(x) = f1(x) + f1(x + 1))
MAX_INLINED = 5_000_000


class _Def:
    """One function definition, user's or prelude's, with its code analysed once."""

    __slots__ = ("name", "params", "code", "pos", "order", "line", "is_prelude", "plan", "calls")

    def __init__(self, st: Statement, order: int, line: int, is_prelude: bool) -> None:
        self.name: str = st.target  # type: ignore[assignment]
        self.params: tuple[str, ...] = st.params  # type: ignore[assignment]
        self.code = st.code
        self.pos = st.target_pos
        self.order = order
        self.line = line
        self.is_prelude = is_prelude
        self.plan: Optional[_Plan] = None
        self.calls = 0


class _Plan(NamedTuple):
    """A code list as a tree: the first item of each subtree, its children, and whether
    the subtree must go through the work stack (it holds a function call or a parameter)."""

    starts: list[int]
    kids: dict[int, list[int]]
    special: bytearray
    root: int


class _Thunk:
    """A call's argument: its expression in the caller's context, lowered on first use."""

    __slots__ = ("item", "ctx", "value")

    def __init__(self, item: int, ctx: "_Ctx") -> None:
        self.item = item
        self.ctx = ctx
        self.value: Optional[int] = None


class _Ctx:
    """Where code runs: the main program (fn None) or the body of one call."""

    __slots__ = ("code", "plan", "env", "fn", "call", "site", "tools")

    def __init__(self, code, plan, env, fn, call, site) -> None:
        self.code: list[Item] = code
        self.plan: Optional[_Plan] = plan
        self.env: dict[str, _Thunk] = env
        self.fn: Optional[_Def] = fn
        self.call: int = call
        #: in the prelude: where the user's program called into it (errors point there)
        self.site: int = site
        #: (resolve, call, fail) for `_run`, made on first use
        self.tools: Optional[tuple] = None


def _arity(tag: str, payload) -> int:
    """How many values an item of postfix code takes from the stack."""
    if tag in ("num", "name", "none"):
        return 0
    if tag == "bin":
        return 2
    if tag in ("neg", "T"):
        return 1
    if tag == "call":
        return payload[1]
    if tag == "index":
        return int(payload) + 1
    return int(payload)  # list, slice


def _plan(code: list[Item], special_call: Callable[[str], bool], params: frozenset) -> _Plan:
    starts: list[int] = []
    kids: dict[int, list[int]] = {}
    special = bytearray(len(code))
    stack: list[int] = []
    for i, (tag, payload, _) in enumerate(code):
        n = _arity(tag, payload)
        mark = False
        if n:
            children = stack[len(stack) - n :]
            del stack[len(stack) - n :]
            starts.append(starts[children[0]])
            kids[i] = children
            mark = any(special[c] for c in children)
        else:
            starts.append(i)
        if tag == "call" and special_call(payload[0]):  # type: ignore[index]
            mark = True
        elif tag == "name" and payload in params:
            mark = True
        special[i] = mark
        stack.append(i)
    return _Plan(starts, kids, special, stack[-1])


def lower(program: Program, output: Optional[str] = None, consume: bool = False) -> Graph:
    """The DAG of `program`'s output (the last statement, or the one named `output`).

    With `consume`, each statement is dropped from `program` once it is lowered, so a
    long program's parse is freed while its graph grows (for a caller that is done
    with `program`: ``lower(parse(source), consume=True)``)."""
    if not program.statements:
        raise ParseError("the program is empty", program.source, 0)
    lowering = _Lowering(program)
    del program
    try:
        return lowering.finish(lowering.run(consume), output)
    finally:
        lowering.release()


#: programs at least this many characters long are lowered by `lower_source` in two
#: passes, never holding their whole parse (about 650 bytes a statement)
STREAM_CHARS = 8_000_000
#: programs at least this many characters long try the fast lane first
#: (`gradcli.language.fastlane`); a shorter one is lowered faster than the lane is imported
FAST_LANE_CHARS = 2_000

class _Step:
    """What the first pass of `lower_source` keeps of a step: the name it assigns (the
    code is read again in the second pass), 56 bytes instead of a `Statement`'s 112."""

    __slots__ = ("target", "target_pos")
    params = None  # a step, not a definition

    def __init__(self, target: Optional[str], target_pos: int) -> None:
        self.target = target
        self.target_pos = target_pos


def lower_source(source: str, output: Optional[str] = None) -> Graph:
    """`lower(parse(source), output)`, the parse freed as the graph grows.

    A program of `FAST_LANE_CHARS` or more goes through the fast lane
    (`gradcli.language.fastlane`: the same graph, made in one pass without a parse), unless
    it is one the lane leaves to this general path.  A long program is read twice: first its statements without their code (the names
    each assigns and the functions, which lowering needs before it starts; every parse
    error is found here, so errors come in the same order), then statement by statement
    into the graph."""
    if len(source) >= FAST_LANE_CHARS:
        from .fastlane import lower_fast  # imported here: its regular expressions cost start-up time

        fast = lower_fast(source, output)
        if fast is not None:
            return fast
    if len(source) < STREAM_CHARS:
        return lower(parse(source), output, consume=True)
    light: list = [st if st.params is not None else _Step(st.target, st.target_pos) for st in statements(source, True)]
    if not light:
        raise ParseError("the program is empty", source, 0)
    lowering = _Lowering(Program(source, light))
    del light
    try:
        return lowering.finish(lowering.run(True, (st.code for st in statements(source, True) if st.params is None)), output)
    finally:
        lowering.release()


class _Lowering:
    """One program lowered: its names and functions, the graph built, and the work-stack
    machine that inlines calls."""

    def __init__(self, program: Program) -> None:
        self.source = program.source
        self.program = program
        #: where each step's name is assigned, the user's functions, the statements to lower
        self.assigned_at: dict[str, int] = {}
        self.user_defs: dict[str, _Def] = {}
        self.steps: list[tuple[int, Statement]] = []
        self.prelude_defs: dict[str, _Def] = {}
        self.g = Graph()
        self.defined: dict[str, int] = {}
        self.inlined = 0
        #: the first call of each built-in/prelude function written by the user: an input of
        #: the same name is then ambiguous (checked at the end, when all inputs are known)
        self.user_calls: dict[str, int] = {}
        self.memo: dict[tuple, int] = {}
        self.order_now = 0
        #: the machine's value stack
        self.values: list = []
        #: every context made: each one's tools refer back to it (`release`)
        self.contexts: list[_Ctx] = []
        self._read_names()

    # ---- errors and positions --------------------------------------------------------
    def fail(self, message: str, pos: int) -> ParseError:
        return ParseError(message, self.source, pos)

    def line_of(self, pos: int) -> int:
        return self.source.count("\n", 0, pos) + 1

    def ctx_fail(self, ctx: _Ctx) -> Callable[[str, int], ParseError]:
        fn = ctx.fn
        if fn is not None and fn.is_prelude:
            source = self.source
            return lambda message, pos: ParseError(f"{message} (in the prelude's {fn.name})", source, ctx.site)
        return self.fail

    # ---- what each name is: steps, the user's functions -----------------------------
    def _read_names(self) -> None:
        fail, assigned_at, user_defs = self.fail, self.assigned_at, self.user_defs
        for order, st in enumerate(self.program.statements):
            if st.params is not None:
                name = str(st.target)
                if name in CONSTANTS or name in FUNCTIONS:
                    what = "constant" if name in CONSTANTS else "function"
                    raise fail(f"{name!r} is a built-in {what}; give your function another name", st.target_pos)
                if name in user_defs:
                    first = user_defs[name]
                    raise fail(f"function {name!r} is defined twice (first on line {first.line})", st.target_pos)
                for p, p_pos in zip(st.params, st.param_pos):
                    if p in CONSTANTS:
                        raise fail(f"{p!r} is a built-in constant and cannot be a parameter", p_pos)
                user_defs[name] = _Def(st, order, self.line_of(st.target_pos), False)
                continue
            self.steps.append((order, st))
            if st.target is None:
                continue
            if st.target in assigned_at:
                raise fail(f"{st.target!r} is assigned twice (each name is assigned once)", st.target_pos)
            if st.target in CONSTANTS:
                raise fail(f"{st.target!r} is a built-in constant and cannot be assigned", st.target_pos)
            assigned_at[st.target] = st.target_pos
        for name, d in user_defs.items():
            if name in assigned_at:
                raise fail(f"{name!r} is a function (defined on line {d.line}) and cannot be assigned",
                           assigned_at[name])
        if not self.steps:
            final = self.program.statements[-1]
            raise fail("the program only defines functions: add a statement that uses them", final.end)

    def prelude_def(self, name: str) -> Optional[_Def]:
        if name not in prelude.NAMES:
            return None
        if not self.prelude_defs:  # parsed only when a program calls into it
            text = prelude.PRELUDE
            for order, st in enumerate(parse(text).statements):
                self.prelude_defs[str(st.target)] = _Def(st, order, text.count("\n", 0, st.target_pos) + 1, True)
        return self.prelude_defs[name]

    def is_function(self, name: str) -> bool:
        return name in self.user_defs or name in prelude.NAMES

    # ---- per-context pieces: names and calls -------------------------------------------
    def resolve(self, ctx: _Ctx, name: str, pos: int) -> int:
        fn = ctx.fn
        assigned_at = self.assigned_at
        if fn is None:
            if name in self.defined:
                return self.defined[name]
            if name in assigned_at:
                raise self.fail(f"{name!r} is used before the statement that assigns it", pos)
        elif name in assigned_at and not fn.is_prelude:
            raise self.fail(
                f"{name!r} is a step of the program (line {self.line_of(assigned_at[name])}); a function body may "
                f"use its parameters, the program's inputs and constants: pass {name} as a parameter",
                pos,
            )
        if name in CONSTANTS:
            return self.g.const(CONSTANTS[name], name, pos)
        if name in self.user_defs and (fn is None or not fn.is_prelude):
            raise self.fail(f"{name!r} is a function (defined on line {self.user_defs[name].line}): call it as "
                            f"{name}(...)", pos)
        return self.g.input(name, pos)

    def known(self, ctx: _Ctx, name: str) -> Optional[int]:
        """The node `name` stands for, if that needs no new node (else None)."""
        if name in ctx.env:
            return ctx.env[name].value
        if ctx.fn is None and name in self.defined:
            return self.defined[name]
        if name in self.assigned_at or name in CONSTANTS or name in self.user_defs:
            return None
        found = self.g.names.get(name)
        return found if found is not None and self.g.ops[found] == INPUT else None

    def callee(self, ctx: _Ctx, name: str, nargs: int, pos: int) -> Optional[_Def]:
        """The function `name(...)` calls in `ctx`: a definition, or None for a built-in."""
        fn = ctx.fn
        in_prelude = fn is not None and fn.is_prelude
        err = self.ctx_fail(ctx)
        if name in ctx.env:
            other = calls.meaning(name, self.user_defs, in_prelude)
            raise err(f"{name!r} is a parameter of {fn.name!r}" + (  # type: ignore[union-attr]
                f", not {other}: rename the parameter to call the function" if other else ", not a function"), pos)
        if fn is None and name in self.assigned_at and (self.is_function(name) or name in FUNCTIONS):
            raise self.fail(
                f"{name!r} is a step of this program (line {self.line_of(self.assigned_at[name])}) and also "
                f"{calls.meaning(name, self.user_defs, False)}: rename the step to call the function", pos)
        d = None if in_prelude else self.user_defs.get(name)
        if d is not None:
            self._check_order(fn, d, name, pos)
        elif name in prelude.NAMES and (not in_prelude or self.prelude_def(name).order < fn.order):  # type: ignore
            d = self.prelude_def(name)
        if d is None:
            if not in_prelude and name in FUNCTIONS:
                self.user_calls.setdefault(name, pos)
            return None
        if not in_prelude:
            self.user_calls.setdefault(name, pos)
        if nargs != len(d.params) and not (d.is_prelude and nargs == len(d.params) - 1
                                           and d.name in prelude.DEFAULTS):
            plural = "" if len(d.params) == 1 else "s"
            raise err(f"{name}() takes {len(d.params)} argument{plural} ({', '.join(d.params)}), got {nargs}", pos)
        if d.plan is None:
            params = frozenset(d.params)
            special = (lambda n: n in params or self.is_function(n)) if not d.is_prelude else (
                lambda n: n in params or n in prelude.NAMES)
            d.plan = _plan(d.code, special, params)
        return d

    def _check_order(self, fn: Optional[_Def], d: _Def, name: str, pos: int) -> None:
        """A user's function is defined before it is used, and never calls itself."""
        if fn is None and d.order > self.order_now:
            raise self.fail(f"function {name!r} is used before its definition on line {d.line} "
                            "(define a function before its first use)", pos)
        if fn is not None and d is fn:
            raise self.fail(f"{name!r} calls itself: recursion is not supported (a function may only call "
                            "functions defined before it)", pos)
        if fn is not None and d.order > fn.order:
            raise self.fail(f"{fn.name!r} calls {name!r}, which is defined after it (line {d.line}): a function "
                            "may only call functions defined before it, so recursion, direct or mutual, "
                            "cannot happen", pos)

    def builtin(self, ctx: _Ctx) -> Callable:
        err = self.ctx_fail(ctx)
        in_prelude = ctx.fn is not None and ctx.fn.is_prelude
        env = ctx.env
        assigned_at, user_defs, user_calls, g = self.assigned_at, self.user_defs, self.user_calls, self.g

        def call(name: str, args: tuple, pos: int) -> int:
            # names whose call needs a closer look (an error, at least); looked up where they
            # live, not copied into one set per statement (that was quadratic in the program)
            if name in env or name in assigned_at or name in user_defs or name in prelude.NAMES:
                self.callee(ctx, name, len(args), pos)  # its checks only: no definition reaches here
            elif not in_prelude:
                user_calls.setdefault(name, pos)
            return calls.call(g, name, args, pos, err, user_defs)

        return call

    # ---- the machine -------------------------------------------------------------------
    def run_span(self, ctx: _Ctx, lo: int, hi: int) -> None:
        self.g.call = ctx.call
        tools = ctx.tools
        if tools is None:
            resolve = self.resolve
            if ctx.fn is None:  # the program itself: most names are steps or inputs seen before
                defined = self.defined

                def find(name: str, pos: int) -> int:
                    found = defined.get(name)
                    return found if found is not None else resolve(ctx, name, pos)
            else:
                def find(name: str, pos: int) -> int:
                    return resolve(ctx, name, pos)
            tools = ctx.tools = (find, self.builtin(ctx), self.ctx_fail(ctx))
        _run(self.g, ctx.code, lo, hi, self.values, *tools)

    def evaluate(self, ctx: _Ctx) -> int:
        """Lower `ctx.code` (a statement) with every call inlined; returns the node."""
        values = self.values
        plan = ctx.plan
        if plan is None:
            self.run_span(ctx, 0, len(ctx.code) - 1)
            return values.pop()
        work: list[tuple] = [("eval", plan.root, ctx)]
        while work:
            entry = work.pop()
            action = entry[0]
            if action == "eval":
                self._eval_item(entry[1], entry[2], work)
            elif action == "apply":
                _, i, c = entry
                self.run_span(c, i, i)
            elif action == "store":
                entry[1].value = values[-1]
            elif action == "finish":
                self._finish_call(entry, work)
            elif action == "drop":
                values.pop()
            else:  # memo hit
                values.append(entry[1])
        return values.pop()

    def _eval_item(self, i: int, c: _Ctx, work: list) -> None:
        """One subtree on the work stack: run it at once, or push what it needs first."""
        p = c.plan
        assert p is not None
        if not p.special[i]:
            self.run_span(c, p.starts[i], i)
            return
        tag, payload, pos = c.code[i]
        if tag == "name":
            thunk = c.env[payload]  # type: ignore[index]
            if thunk.value is not None:
                self.values.append(thunk.value)
            else:
                work.append(("store", thunk))
                work.append(("eval", thunk.item, thunk.ctx))
            return
        if tag == "call":
            d = self.callee(c, payload[0], payload[1], pos)  # type: ignore[index]
            if d is not None:
                self.enter(c, i, d, work)
                return
        work.append(("apply", i, c))
        for k in reversed(p.kids[i]):
            work.append(("eval", k, c))

    def _finish_call(self, entry: tuple, work: list) -> None:
        """A call's body is lowered: record its result, memoise it, lower unused arguments."""
        _, call, thunks, key = entry
        values = self.values
        self.g.calls[call][2] = values[-1]
        if key is not None and all(t.value is not None for t in thunks):
            self.memo[(key, tuple(t.value for t in thunks))] = values[-1]
        for t in thunks:
            if t.value is None:  # an argument the body ignores: lower it for its errors
                work.append(("drop",))
                work.append(("store", t))
                work.append(("eval", t.item, t.ctx))

    def enter(self, c: _Ctx, i: int, d: _Def, work: list) -> None:
        kids = c.plan.kids.get(i, [])  # type: ignore[union-attr]
        d.calls += 1
        label = f"{d.name}#{d.calls}"
        ids = []
        for k in kids:
            tag, payload, _ = c.code[k]
            node = self.known(c, payload) if tag == "name" else None  # type: ignore[arg-type]
            if node is None:
                break
            ids.append(node)
        else:
            hit = self.memo.get((d, tuple(ids)))
            if hit is not None:  # the same function on the same nodes: inlining again adds nothing
                work.append(("value", hit))
                return
        self.inlined += len(d.code)
        if self.inlined > MAX_INLINED:
            raise self.ctx_fail(c)(f"the function calls expand to over {MAX_INLINED:,} operations "
                                   f"(a definition calling another twice or more, many levels deep?)", c.code[i][2])
        thunks = [_Thunk(k, c) for k in kids]
        if len(thunks) < len(d.params):  # a prelude function's optional last argument (eps)
            default = _Thunk(-1, c)
            text = prelude.DEFAULTS[d.name]
            default.value = self.g.const(float(text), text, c.code[i][2])
            thunks.append(default)
        g = self.g
        g.calls.append([label, c.call, -1])
        site = c.site if (c.fn is not None and c.fn.is_prelude) else c.code[i][2]
        inner = _Ctx(d.code, d.plan, dict(zip(d.params, thunks)), d, len(g.calls) - 1, site)
        self.contexts.append(inner)
        work.append(("finish", inner.call, thunks, d))
        work.append(("eval", d.plan.root, inner))  # type: ignore[union-attr]

    # ---- the program, statement by statement ------------------------------------------------
    def run(self, consume: bool = False, codes: Optional[Iterator[list[Item]]] = None) -> int:
        """Every statement lowered in order; the last one's node.  With `consume`, each
        statement but the last is dropped once lowered (`lower`); `codes`, if given, yields
        the steps' code in order (`lower_source`: the statements were read without it)."""
        last = -1
        statements, steps, final = self.program.statements, self.steps, len(self.steps) - 1
        g, defined = self.g, self.defined
        main = _Ctx([], None, {}, None, -1, -1)  # one context for every statement of the program
        self.contexts.append(main)
        # a statement needs the work stack only if it calls a function; skip looking when none can be
        may_call = bool(self.user_defs) or any(name in self.source for name in prelude.NAMES)
        is_function = self.is_function
        for k in range(len(steps)):
            order, st = steps[k]
            if consume and k < final:
                steps[k] = statements[order] = None  # type: ignore[call-overload]
            self.order_now = order
            main.code = st.code if codes is None else next(codes)
            main.plan = None
            if may_call and any(tag == "call" and is_function(str(payload[0]))  # type: ignore[index]
                                for tag, payload, _ in main.code):
                main.plan = _plan(main.code, is_function, frozenset())
            result = self.evaluate(main)
            if st.target is not None:
                defined[st.target] = result
                g.names.setdefault(st.target, result)
                if g.names_of[result] is None and g.ops[result] != CONST:
                    g.names_of[result] = st.target
            last = result
        g.call = -1
        return last

    def release(self) -> None:
        """Break the reference cycles between the contexts and their tools, so that the
        lowering's tables are freed at once (the CLI runs with the garbage collector off)."""
        for ctx in self.contexts:
            ctx.tools = None
        self.contexts.clear()

    def finish(self, last: int, output: Optional[str]) -> Graph:
        """The checks that need every input known, then the output's graph, pruned."""
        return calls.finish_graph(self.g, self.defined, self.user_calls, self.source, self.user_defs, last,
                            self.steps[-1][1].target or "", output)


def _run(g: Graph, code: list[Item], lo: int, hi: int, stack: list, resolve, call, fail) -> None:
    """Run postfix items ``code[lo..hi]`` (no inlined calls among them) on `stack`."""
    for tag, payload, pos in (code if lo == 0 and hi == len(code) - 1 else code[lo : hi + 1]):
        if tag == "num":
            value, text = payload  # type: ignore[misc]
            stack.append(g.const(value, text, pos))
        elif tag == "name":
            stack.append(resolve(payload, pos))
        elif tag == "bin":
            b = stack.pop()
            a = stack.pop()
            op = BINARY_OPS[str(payload)]
            stack.append(g.add(op.name, (a, b), pos=pos))
        elif tag == "neg":
            a = stack.pop()
            param = g.params[a]
            if g.ops[a] == CONST and isinstance(param, float):
                text = g.texts[a]
                text = text[1:] if text.startswith("-") else "-" + text
                stack.append(g.const(-param, text, pos))
            else:
                stack.append(g.add("neg", (a,), pos=pos))
        elif tag == "call":
            name, nargs = payload  # type: ignore[misc]
            args = tuple(stack[len(stack) - nargs :]) if nargs else ()
            del stack[len(stack) - nargs :]
            stack.append(call(name, args, pos))
        elif tag == "list":
            n = int(payload)  # type: ignore[arg-type]
            items = tuple(stack[len(stack) - n :])
            del stack[len(stack) - n :]
            stack.append(g.add("stack", items, pos=pos))
        elif tag == "T":
            stack.append(g.add("transpose", (stack.pop(),), pos=pos))
        elif tag == "none":
            stack.append(None)
        elif tag == "slice":
            n = int(payload)  # type: ignore[arg-type]
            parts = [calls.integer(g, p, pos, fail) for p in stack[len(stack) - n :]]
            del stack[len(stack) - n :]
            stack.append(("slice", *parts, *([None] * (3 - n))))
        elif tag == "index":
            n = int(payload)  # type: ignore[arg-type]
            picked = stack[len(stack) - n :]
            del stack[len(stack) - n :]
            base = stack.pop()
            if n == 1 and isinstance(picked[0], int) and g.nodes[picked[0]].op != CONST:
                stack.append(g.add("gather", (base, picked[0]), pos=pos))  # x[idx]: an integer array
                continue
            index = tuple(it if isinstance(it, tuple) else calls.integer(g, it, pos, fail) for it in picked)
            if any(it is None for it in index):
                raise fail("an index must be an integer or a slice", pos)
            stack.append(g.add("index", (base,), param=index, pos=pos))
        else:  # pragma: no cover - the parser emits no other tags
            raise fail(f"unsupported syntax {tag!r}", pos)
