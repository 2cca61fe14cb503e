#!/usr/bin/env python3
"""Expected chat-template renderings by transformers, for Kiln's chat-template tests: writes
Fixtures/expected/chat_templates.json (templates, conversations and, for every case, the exact
prompt text or the error).

Templates:
- SmolLM2-135M-Instruct's, from the GGUF (Tools/fetch-smollm2.sh): the tokenizer is loaded with
  `AutoTokenizer.from_pretrained('.models', gguf_file=...)` and every case is rendered with
  `tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)`.
- every template in Tools/chat_template_sources.json (verbatim `chat_template` strings of public
  tokenizer_config.json files: ChatML, Llama 2/3/3.1/3.2, Mistral, Mixtral, Qwen2.5, Qwen3,
  Zephyr, Gemma, Phi-3, ... 146 in all), rendered with transformers' `render_jinja_template`
  (what `apply_chat_template` calls) and, as a cross-check that must agree, with jinja2
  configured as transformers' `_compile_jinja_template` does.

The named templates get every conversation (system/user/assistant multi-turn, unicode, tool turn,
empty content, a bad role order for the templates that `raise_exception`) with and without the
generation prompt, and tool definitions where they take them; the others get three cases.
Renderings that depend on the clock (`strftime_now` without a `date_string`) are left out.

Needs: transformers, jinja2, gguf (`pip install transformers jinja2 gguf`) and the model.

Usage:
    python3 Tools/make_chat_template_expected.py [--check]
"""

from __future__ import annotations

import argparse
import datetime as real_datetime
import json
import sys
from importlib.metadata import version
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from transformers import AutoTokenizer
from transformers.utils import chat_template_utils
from transformers.utils.chat_template_utils import render_jinja_template

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "Tools" / "chat_template_sources.json"
MODEL_DIR = ROOT / ".models"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
OUTPUT = ROOT / "Fixtures" / "expected" / "chat_templates.json"

CONVERSATIONS: dict[str, list[tuple[str, str]]] = {
    "system-multi-turn": [
        ("system", "You are a helpful assistant."),
        ("user", "What is the capital of France?"),
        ("assistant", "The capital of France is Paris."),
        ("user", "And of Germany?"),
    ],
    "no-system": [
        ("user", "Hello, how are you?"),
        ("assistant", "I'm doing great. How can I help you today?"),
        ("user", "I'd like to show off how chat templating works!"),
        ("assistant", "  Sure: templates turn messages into one prompt.  "),
    ],
    "unicode": [
        ("system", "Tu es un assistant serviable. Réponds en français 🇫🇷."),
        ("user", "  Ünïcödé: 日本語のテキスト, עברית, 👩‍💻 and a\ttab,\r\nCRLF; literal {{ bos_token }} {% if x %} <|im_end|> \\n  "),
        ("assistant", "\n  Voilà — une liste :\n- α\n- β\n\n"),
        ("user", "Merci ! café vs cafe\u0301 (composed vs decomposed)"),
    ],
    "user-only": [("user", "Write a haiku about kilns.")],
    "tool-turn": [
        ("system", "You can call tools."),
        ("user", "What's the weather in Zürich?"),
        ("assistant", "Let me check."),
        ("tool", "{\"temperature\": 21, \"unit\": \"celsius\"}"),
    ],
    "empty-content": [("user", ""), ("assistant", ""), ("user", " ")],
    "bad-order": [("user", "first"), ("user", "second")],
    "assistant-first": [("assistant", "I speak first."), ("user", "Hi.")],
}

# Every conversation, with and without the generation prompt.
NAMED = [
    "smollm2", "chatml", "llama-3-instruct", "llama-3.1-instruct", "llama-3.2-instruct", "llama-2-chat",
    "mistral-7b-instruct-v0.1", "mistral-7b-instruct-v0.1-original", "mixtral-8x7b-instruct-v0.1-original",
    "mistral-7b-instruct-v0.3", "mistral-nemo-instruct-2407", "qwen2.5-instruct", "qwen3", "zephyr", "gemma-it",
    "gemma-3-it", "phi-3-mini-instruct", "phi-3.5-mini-instruct",
]
# The others: (conversation, add_generation_prompt).
CORPUS_CASES = [("system-multi-turn", True), ("no-system", False), ("unicode", True)]

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}]

# Variables for every case of a template (so that it does not read the clock), and extra cases.
TEMPLATE_EXTRA = {"llama-3.2-instruct": {"date_string": "02 Jan 2025"}}
EXTRA_CASES = {
    "llama-3.1-instruct": [("system-multi-turn", True, {"tools": TOOLS, "date_string": "26 Jul 2024"}),
                           ("no-system", False, {"tools": TOOLS, "tools_in_user_message": False})],
    "llama-3.2-instruct": [("system-multi-turn", True, {"tools": TOOLS, "date_string": "02 Jan 2025"})],
    "qwen2.5-instruct": [("system-multi-turn", True, {"tools": TOOLS}), ("tool-turn", False, {"tools": TOOLS})],
    "qwen3": [("system-multi-turn", True, {"tools": TOOLS}), ("user-only", True, {"enable_thinking": False})],
    "mistral-7b-instruct-v0.3": [("no-system", False, {"tools": TOOLS})],
    "mistral-nemo-instruct-2407": [("no-system", False, {"tools": TOOLS})],
}


class Generation(jinja2.ext.Extension):
    """transformers' `{% generation %}...{% endgeneration %}` block, which renders its body (it
    also records where, for assistant token masks, which does not matter here)."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


# Small templates probing one behaviour each: whitespace control, scoping, Python values and
# operators, filters, tests, methods, undefined values, errors. Rendered with messages from
# "system-multi-turn", bos_token "<s>", eos_token "</s>", no generation prompt and these variables.
FEATURE_VARIABLES = {"x": None, "n": 7, "items": [3, 1, 2], "text": "  Hello World  ", "empty": "",
                     "obj": {"b": 2, "a": [1, {"c": "é"}], "role": "user"}, "flag": True}
FEATURES = [
    # Whitespace: trim_blocks, lstrip_blocks, -/+ markers, comments, raw, trailing newline, CRLF.
    "  {% if true %}\n  x\n  {% endif %}\n  y",
    "a  {% if true %}b{% endif %}  \n  {#c#}\n  {{ 'v' }}\n",
    "a\n  {%+ if true %}b{% endif +%}\nc",
    "{% raw %}{{ x }}{% endraw %}\n|",
    "x  {%- if true -%}  \n y \n {%- endif %}z",
    "{{ 'a' }}  \n  {{- 'b' -}}  \n  c",
    "line1\r\nline2\r{{ 'x' }}\n\n",
    "{# c #}\nA{#- c -#}\n B",
    "\t{% for i in items %}\n\t{{ i }}\n\t{% endfor %}\n",
    "{% for i in items -%}\n  {{ i }}\n{%- endfor %}",
    "{{ 'a' }}\n{{ 'b' }}\n",
    "{%- if true %}\n\n{% endif -%}\n\nend\n",
    "{{ {'a': {'b': 1}} }}|{{ '}}' }}|{{ '{%' }}",
    # Scoping: a for body does not leak, if does; namespaces do.
    "{% set v = 1 %}{% for i in range(2) %}[{{ v }}]{% set v = 2 %}[{{ v }}]{% endfor %}{{ v }}",
    "{% for i in range(2) %}{% if i == 1 %}{{ w }}{% endif %}{% set w = i %}{% endfor %}|{{ w }}",
    "{% if true %}{% set z = 5 %}{% endif %}{{ z }}",
    "{% set i = 9 %}{% for i in [1,2] %}{% endfor %}{{ i }}",
    "{% set ns = namespace(a=1, found=false) %}{% for i in range(3) %}{% set ns.a = ns.a + i %}{% if i == 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.a }}{{ ns.found }}",
    "{% set found = false %}{% for m in messages %}{% if m.role == 'system' %}{% set found = true %}{% endif %}{% endfor %}{{ found }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}",
    # Loops.
    "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined }}>{{ loop.nextitem.role if not loop.last }};{% endfor %}",
    "{% for x in [1,2,3] if x > 1 %}{{ loop.index }}/{{ loop.length }}{% if loop.last %}L{% endif %}{% else %}E{% endfor %}",
    "{% for x in [] %}a{% else %}E{% endfor %}{% for x in missing %}a{% else %}M{% endfor %}",
    "{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% if x == 3 %}{% break %}{% endif %}{% endfor %}",
    "{% for k, v in obj.items() %}{{ k }}={{ v }};{% endfor %}{% for k in obj %}{{ k }}{% endfor %}",
    "{% for a, b in [[1, 2], (3, 4)] %}{{ a }}{{ b }}{% endfor %}{% for c in 'héllo' %}{{ c }}.{% endfor %}",
    "{% for i in range(3) %}{{ loop.cycle('odd', 'even') }}{% endfor %}{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}",
    "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}",
    # Values and printing.
    "{{ none }}|{{ true }}|{{ false }}|{{ x }}|{{ [1,'a',none,1.5,true] }}|{{ {'a':1,'b':'x\"y'} }}|{{ (1, 2) }}|{{ (1,) }}|{{ () }}",
    "{{ 1/2 }}|{{ 4/2 }}|{{ 1e20 }}|{{ 1e-5 }}|{{ 0.0001 }}|{{ 0.1+0.2 }}|{{ 1e16 }}|{{ 123456789012345.6 }}|{{ -0.0 }}|{{ 2.5e-3 }}|{{ 1.0 }}",
    "{{ ['a\\'b', \"c\\\"d\", 'e\\nf', '\\x01', 'é', '\\u00a0', '\\\\'] }}",
    "{{ 'a\\u00e9\\x41\\101\\tb' }}|{{ \"a\\qb\" }}|{{ 'it''s' }}|{{ \"x\" 'y' }}",
    "{{ 0x1F }}{{ 0o17 }}{{ 0b101 }}{{ 1_000 }}{{ 1.5e3 }}{{ 0 }}{{ 1.5 }}{{ 10 }}",
    "{{ 007 }}",
    "{{ obj }}|{{ obj.a }}|{{ obj.a.1.c }}|{{ obj['a'][0] }}|{{ obj.missing }}|{{ items.0 }}",
    "{{ messages[0] }}",
    # Operators.
    "{{ 1 + 1.5 }}|{{ true + 1 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 7.5 // 2 }}|{{ -7.5 % 2 }}|{{ 10 / 4 }}",
    "{{ 'a' * 3 }}{{ 3 * 'b' }}{{ [1] * 2 }}{{ 'x' * 0 }}{{ 'x' * -1 }}|{{ [1, 2] + [3] }}|{{ 'a' ~ 1 ~ none ~ true ~ x }}",
    "{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' < 'b' }}{{ 'B' < 'a' }}{{ [1,2] == [1,2] }}{{ [1,2] < [1,3] }}{{ (1,2) == [1,2] }}{{ 1 == '1' }}{{ none == none }}{{ x == y }}",
    "{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 2 >= 2 }}{{ 1 != 2 }}",
    "{{ 'a' in 'cab' }}{{ 1 in [1] }}{{ 'k' in {'k': 1} }}{{ 'z' not in 'abc' }}{{ 'role' in obj }}{{ 'x' in missing }}{{ 1 in {'a': 1} }}",
    "{{ 'a' and 'b' }}|{{ '' or 'c' }}|{{ 0 and 1 }}|{{ none or [] }}|{{ not x }}|{{ not not 1 }}",
    "{{ 'yes' if flag else 'no' }}|{{ 'a' if false }}|{{ 1 if n > 5 else 2 if n > 3 else 3 }}",
    "{{ -n }}{{ +n }}{{ - -n }}{{ -1 | abs }}{{ -n ** 2 }}",
    # Slicing.
    "{{ items[1:] }}{{ items[::-1] }}{{ items[:-1] }}{{ items[-2:] }}{{ items[5:] }}{{ items[::2] }}{{ 'héllo'[1:3] }}{{ 'abc'[::-1] }}{{ 'abcdef'[-4:-1:2] }}",
    "{{ messages[1:] | length }}{{ messages[-1].content }}{{ messages[0]['role'] }}{{ (messages | last).role }}",
    # Filters.
    "{{ text | trim }}|{{ 'xxaxx' | trim('x') }}|{{ '\\u3000a\\u00a0' | trim | length }}|{{ text | upper }}|{{ text | lower }}",
    "{{ 'hello WORLD' | title }}|{{ \"they're bob's\" | title }}|{{ 'A-b c(d' | title }}|{{ 'hELLO wORLD' | capitalize }}",
    "{{ items | length }}{{ 'héllo' | length }}{{ obj | length }}{{ missing | length }}{{ '😀' | length }}{{ items | count }}",
    "{{ obj | tojson }}|{{ [1,'é',none,true,1.5,'\"\\n\\t\\x01'] | tojson }}|{{ 'x' | tojson }}|{{ 3.0 | tojson }}",
    "{{ obj | tojson(indent=4) }}|{{ {'a':[]} | tojson(indent=2) }}|{{ obj | tojson(sort_keys=true) }}|{{ 'é' | tojson(ensure_ascii=true) }}|{{ [1,2] | tojson(separators=(',', ':')) }}",
    "{{ missing | default('d') }}|{{ '' | default('d') }}|{{ '' | default('d', true) }}|{{ none | default('d') }}|{{ x | d('e') }}",
    "{{ items | first }}{{ items | last }}{{ 'abc' | first }}{{ 'abc' | last }}{{ [] | first }}|",
    "{{ items | join(', ') }}|{{ ['a','b'] | join }}|{{ messages | join('/', attribute='role') }}",
    "{{ 'aaa' | replace('a','b', 2) }}|{{ 'abc' | replace('', '-') }}|{{ 'abc' | list }}|{{ obj | list }}|{{ items | reverse | list }}|{{ 'abc' | reverse }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | list }}",
    "{{ [{'r':'u'},{'x':1}] | selectattr('r', 'defined') | list }}{{ [{'r':'u'},{'x':1}] | selectattr('r', 'undefined') | list }}{{ [{'r':'u'},{'r':''}] | selectattr('r') | list }}",
    "{{ [1,2,3,4] | select('odd') | list }}{{ [1,2,3,4] | reject('even') | list }}{{ [0, 1, '', 'a'] | select | list }}{{ [1,5,10] | select('gt', 3) | list }}",
    "{{ ['b','A','a'] | sort }}{{ ['b','A','a'] | sort(case_sensitive=true) }}{{ items | sort(reverse=true) }}{{ messages | sort(attribute='role') | map(attribute='role') | join(',') }}",
    "{{ ['b','A','a'] | unique | list }}{{ ['b','A'] | max }}{{ items | min }}{{ items | sum }}{{ [1.5, 2] | sum }}{{ [] | sum }}",
    "{{ [1, 2] | map('string') | list }}{{ ['a', 'b'] | map('upper') | join }}{{ [{'a': 1}, {}] | map(attribute='a', default=0) | list }}",
    "{{ obj | items | list }}{{ obj | dictsort }}{{ {'b': 1, 'a': 2} | dictsort(by='value') }}",
    "{{ 2.5 | int }}{{ '3' | int }}{{ 'x' | int }}{{ '2.5' | float }}{{ 3 | float }}{{ 'x' | float(1.5) }}{{ true | int }}",
    "{{ 0.1 | round }}{{ 2.5 | round }}{{ 3.14159 | round(2) }}{{ 7 | round }}{{ 2.1 | round(0, 'ceil') }}{{ -3 | abs }}",
    "{{ x | string }}|{{ none | string }}|{{ 1.0 | string }}|{{ [x] }}|{{ missing | string }}",
    "{{ 'a\\nb' | indent(2) }}|{{ 'a\\n\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, true, true) }}|{{ 'hello world  foo' | wordcount }}",
    "{{ '<a>&\"\\'' | e }}|{{ '%s-%d' | format('a', 3) }}|{{ 'x' | safe }}|{{ obj | attr('role') }}|{{ obj | attr('items') is callable }}",
    "{% filter upper %}shout {{ 'this' }}{% endfilter %}|{% set block %}inner {{ 1 }}{% endset %}[{{ block }}]",
    # Tests.
    "{{ 'abc' is string }}{{ 1 is number }}{{ true is number }}{{ true is integer }}{{ 1.5 is float }}{{ {} is mapping }}{{ 'a' is iterable }}{{ missing is iterable }}{{ 1 is iterable }}{{ {} is sequence }}",
    "{{ none is none }}{{ missing is defined }}{{ missing is undefined }}{{ x is defined }}{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}",
    "{{ true is true }}{{ 1 is true }}{{ false is false }}{{ true is boolean }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ 'a' is eq 'a' }}{{ 2 is gt 1 }}{{ 1 is in [1] }}{{ x is sameas none }}",
    "{{ range is callable }}{{ 'a' is callable }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ messages[0] is mapping }}{{ n is not string }}",
    # Methods.
    "{{ text.strip() }}|{{ text.lstrip() }}|{{ text.rstrip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\ta b\\n'.strip() }}",
    "{{ 'a,b,,c'.split(',') }}{{ '  a  b '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a b c'.rsplit(' ', 1) }}{{ 'a<think>b</think>c'.split('</think>')[-1] }}",
    "{{ 'Hello'.startswith('He') }}{{ 'Hello'.endswith(('x', 'lo')) }}{{ 'abc'.upper() }}{{ 'ABC'.lower() }}{{ \"they're\".title() }}{{ 'hELLO'.capitalize() }}",
    "{{ 'aaa'.replace('a', 'b') }}{{ 'aaa'.replace('a', 'b', 1) }}{{ 'hello'.find('l') }}{{ 'hello'.rfind('l') }}{{ 'hello'.find('z') }}{{ 'hello'.count('l') }}{{ '-'.join(['a', 'b']) }}",
    "{{ 'Hi {}, {name}!'.format('x', name='N') }}|{{ '%s: %05.2f %d%%' % ('pi', 3.14159, 42) }}|{{ '%r' % 'q' }}",
    "{{ obj.get('b') }}{{ obj.get('zz', 'dflt') }}{{ obj.get('zz') }}{{ obj.keys() | list }}{{ obj.values() | list | length }}{{ obj['items'] is defined }}",
    "{{ '12'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}{{ 'a\\nb'.splitlines() }}{{ 'ab'.zfill(4) }}{{ 'ab'.center(6, '*') }}",
    # Macros and call blocks.
    "{% macro m(a, b='x') %}<{{ a }}{{ b }}{{ outer }}>{% endmacro %}{% set outer = 'O' %}{{ m(1) }}{{ m(2, b='y') }}{{ m() }}",
    "{% macro f(x) %}[{{ x }}|{{ caller() }}]{% endmacro %}{% call f(1) %}body{% endcall %}",
    "{% macro f(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(v) f([1, 2]) %}<{{ v }}>{% endcall %}",
    "{% macro fact(k) %}{{ 1 if k <= 1 else k * (fact(k - 1) | int) }}{% endmacro %}{{ fact(5) }}",
    "{% generation %}inside{% endgeneration %}",
    # Globals.
    "{{ dict(a=1, b=2) }}{{ dict(a=1) | items | list }}{{ namespace(a=1).a }}{{ range(3) | list }}{{ range(0) | list }}",
    # Undefined values and errors.
    "{{ missing }}|{{ missing.attr is defined }}",
    "{{ obj.missing.deeper }}",
    "{{ missing + 'a' }}",
    "{{ 'a' + 1 }}",
    "{{ 5 / 0 }}",
    "{{ 'a' < 1 }}",
    "{{ [1, 'a'] | sort }}",
    "{{ raise_exception('boom: ' ~ n) }}",
    "{% if messages | length > 1 %}{{ raise_exception('Only one message, please.') }}{% endif %}",
    "{{ items.append(4) }}",
    "{{ x.y }}|{{ none.y }}|{{ [][0] }}|{{ {'a':1}['b'] }}|{{ 'abc'[5] }}|",
    "{{ 'ab'.split('') }}",
    "{% set v = 1 %}{% set v.a = 1 %}",
    "{% set ns = namespace() %}{% set ns._secret = 1 %}",
    "{{ loop }}|{{ x | length }}",
    "{{ -'1' }}",
    "{{ n() }}",
    "{{ 'x' | tojson }}{{ missing | tojson }}",
    # Syntax errors (Jinja refuses these when compiling).
    "{% if true %}unclosed",
    "{% for x in %}{% endfor %}",
    "{{ 'a' | strip }}",
    "{{ x is nonsense }}",
    "{% endif %}",
    "{{ 1 + }}",
    "{% frobnicate %}",
    "{{ 'unterminated }}",
    "{% break %}",
]


def transformers_environment(strftime_now) -> ImmutableSandboxedEnvironment:
    """jinja2 set up as transformers' `_compile_jinja_template` does."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["namespace"] = TemplateNamespace
    return env


class TemplateNamespace(jinja2.utils.Namespace):
    """transformers' namespace: no underscore-prefixed attributes (they could reach Python internals)."""

    def __init__(*args, **kwargs):
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name, value):
        TemplateNamespace._check_name(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check_name(name):
        if isinstance(name, str) and name.startswith("_"):
            raise jinja2.exceptions.SecurityError(
                f"Chat templates cannot store underscore-prefixed attributes on a namespace, but got {name!r}. "
                "Please rename the attribute."
            )


class FixedClock:
    """Stands in for the `datetime` module transformers' `strftime_now` reads."""

    def __init__(self, when: real_datetime.datetime):
        self.when = when

    @property
    def datetime(self):
        when = self.when

        class _DateTime:
            @staticmethod
            def now():
                return when

        return _DateTime


CLOCKS = [real_datetime.datetime(2025, 1, 2, 3, 4, 5), real_datetime.datetime(2026, 7, 8, 9, 10, 11)]


def outcome(render) -> dict:
    try:
        return {"expected": render()}
    except jinja2.exceptions.TemplateError as error:
        if type(error) is jinja2.exceptions.TemplateError:  # raise_exception(message)
            return {"error": {"raised": error.message}}
        return {"error": {"type": type(error).__name__, "message": str(error)}}
    except Exception as error:  # noqa: BLE001 - Python errors inside a template (TypeError, ...)
        return {"error": {"type": type(error).__name__, "message": str(error)}}


def render_case(template: str, messages: list[dict], generation: bool, bos: str, eos: str, extra: dict,
                tokenizer=None) -> dict | None:
    """The transformers result, checked against plain jinja2; None when it depends on the clock."""
    results = []
    for clock in CLOCKS:
        chat_template_utils.datetime = FixedClock(clock).datetime
        try:
            if tokenizer is not None:
                result = outcome(lambda: tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=generation, **extra))
            else:
                kwargs = {"bos_token": bos, "eos_token": eos, **extra}
                result = outcome(lambda: render_jinja_template(
                    conversations=[messages], chat_template=template, add_generation_prompt=generation, **kwargs)[0][0])
        finally:
            chat_template_utils.datetime = real_datetime.datetime
        env = transformers_environment(lambda fmt, clock=clock: clock.strftime(fmt))
        context = {"tools": None, "documents": None, **extra}
        plain = outcome(lambda: env.from_string(template).render(
            messages=messages, add_generation_prompt=generation, bos_token=bos, eos_token=eos, **context))
        if plain != result:
            raise SystemExit(f"transformers and jinja2 disagree:\n{template[:200]!r}\n{result}\n{plain}")
        results.append(result)
    if results[0] != results[1]:
        return None
    return results[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the output would change")
    args = parser.parse_args()
    if not (MODEL_DIR / MODEL_FILE).exists():
        print(f"{MODEL_DIR / MODEL_FILE} is missing; run Tools/fetch-smollm2.sh", file=sys.stderr)
        return 2

    sources = json.loads(SOURCES.read_text())["templates"]
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL_DIR), gguf_file=MODEL_FILE)
    special = tokenizer.special_tokens_map
    templates = {"smollm2": {
        "models": ["HuggingFaceTB/SmolLM2-135M-Instruct"],
        "source": f"GGUF tokenizer.chat_template of {MODEL_FILE}, loaded by transformers",
        "bos_token": special["bos_token"], "eos_token": special["eos_token"],
        "chat_template": tokenizer.chat_template,
    }}
    for entry in sources:
        templates[entry["id"]] = {"models": entry["models"], "source": "tokenizer_config.json",
                                  "bos_token": entry["bos_token"], "eos_token": entry["eos_token"],
                                  "chat_template": entry["chat_template"]}

    cases = []
    skipped = []
    for template_id, template in templates.items():
        if template_id in NAMED:
            plan = [(name, generation, {}) for name in CONVERSATIONS for generation in (True, False)]
            plan += EXTRA_CASES.get(template_id, [])
        else:
            plan = [(name, generation, {}) for name, generation in CORPUS_CASES]
        for conversation, generation, case_extra in plan:
            extra = {**TEMPLATE_EXTRA.get(template_id, {}), **case_extra}
            messages = [{"role": role, "content": content} for role, content in CONVERSATIONS[conversation]]
            result = render_case(template["chat_template"], messages, generation, template["bos_token"],
                                 template["eos_token"], extra, tokenizer if template_id == "smollm2" else None)
            if result is None:
                skipped.append(f"{template_id}/{conversation}")
                continue
            case = {"template": template_id, "conversation": conversation, "add_generation_prompt": generation}
            if extra:
                # JSON text, so that the Swift side keeps the key order tojson prints.
                case["extra_json"] = json.dumps(extra, ensure_ascii=False)
            case.update(result)
            cases.append(case)

    features = []
    messages = [{"role": role, "content": content} for role, content in CONVERSATIONS["system-multi-turn"]]
    for template in FEATURES:
        result = render_case(template, messages, False, "<s>", "</s>", FEATURE_VARIABLES)
        assert result is not None, template
        features.append({"template": template, **result})

    out = {
        "generator": "Tools/make_chat_template_expected.py",
        "transformers_version": version("transformers"),
        "jinja2_version": version("jinja2"),
        "conversations": {name: [list(m) for m in messages] for name, messages in CONVERSATIONS.items()},
        "templates": templates,
        "cases": cases,
        "feature_variables_json": json.dumps(FEATURE_VARIABLES, ensure_ascii=False),
        "features": features,
    }
    data = (json.dumps(out, indent=1, ensure_ascii=False) + "\n").encode()
    assert len(data) < 1_500_000, len(data)
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_bytes() == data
        print("up to date" if same else f"{OUTPUT.relative_to(ROOT)} would change")
        return 0 if same else 1
    OUTPUT.write_bytes(data)
    errors = sum(1 for c in cases if "error" in c)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(data)} bytes): {len(templates)} templates, {len(cases)} cases "
          f"({errors} errors); left out as clock-dependent: {', '.join(skipped) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
