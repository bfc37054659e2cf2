"""List prices per model, for estimates made before any call (`estimate`, `--max-cost` without history).

The figures are the ones the newest tested CLI (2.1.332) bills with in `total_cost_usd`,
read off its answers for a known usage: the CLI's own price table, so an estimate and the
cost the run then reports agree. Aliases (`sonnet`, `opus`, `haiku`) are priced as the model
that CLI resolves them to; an unknown name is priced by its family, else as the dearest
family, so an estimate never undershoots for a model this table has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "claude-sonnet-5-5"
"""The current Sonnet: what the alias `sonnet` resolves to in CLI 2.1.332 (2.1.197 passes the name through)."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


MODEL_PRICES: dict[str, Price] = {
    "claude-sonnet-5-5": Price(2.0, 10.0),
    "claude-sonnet-5": Price(2.0, 10.0),
    "claude-sonnet-4-6": Price(3.0, 15.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-opus-5-5": Price(4.0, 20.0),
    "claude-opus-5": Price(5.0, 25.0),
    "claude-opus-4-8": Price(5.0, 25.0),
    "claude-opus-4-7": Price(5.0, 25.0),
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-haiku-5-5": Price(0.1, 0.5),
    "claude-haiku-4-5": Price(1.0, 5.0),
    "claude-fable-5-2": Price(8.0, 40.0),
    "claude-fable-5": Price(10.0, 50.0),
}

ALIASES = {"sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5-5", "haiku": "claude-haiku-5-5", "fable": "claude-fable-5-2"}
"""What CLI 2.1.332 sends for each alias (older CLIs resolve them to older models)."""

FAMILY_FALLBACK = {"sonnet": "claude-sonnet-5-5", "opus": "claude-opus-5", "haiku": "claude-haiku-4-5",
                   "fable": "claude-fable-5"}
"""An unknown model of a known family: the family's dearest current price."""


def resolve_alias(model: str) -> str:
    return ALIASES.get(model.strip().lower(), model)


def price_of(model: str) -> Price:
    """The list price of `model`: exact name (a dated suffix such as `-20250929` ignored), alias, family, else fable's."""
    name = resolve_alias(model).lower()
    for known in sorted(MODEL_PRICES, key=len, reverse=True):  # "claude-sonnet-5-5" before "claude-sonnet-5"
        if name == known or name.startswith(known + "-2"):
            return MODEL_PRICES[known]
    family = next((family for family in FAMILY_FALLBACK if family in name), "fable")
    return MODEL_PRICES[FAMILY_FALLBACK[family]]


def is_alias(model: str) -> bool:
    """A moving name: the CLI picks the model, so results may come from different model versions."""
    return model.strip().lower() in ALIASES
