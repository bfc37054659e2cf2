"""List prices per model (estimates before any call), the default model, and the cache key's exact model string."""

from __future__ import annotations

from pathlib import Path

from claudebuild.config import Config
from claudebuild.pipeline.prompt import answer_key
from claudebuild.prices import DEFAULT_MODEL, MODEL_PRICES, Price, is_alias, price_of


def test_the_default_model_is_the_current_sonnet_and_has_a_price() -> None:
    assert DEFAULT_MODEL == "claude-sonnet-5-5" and DEFAULT_MODEL in MODEL_PRICES
    assert Config(root=Path(".")).model == DEFAULT_MODEL


def test_an_alias_is_priced_as_the_model_the_newest_cli_sends_for_it() -> None:
    assert price_of("sonnet") == price_of("claude-sonnet-5-5") == Price(2.0, 10.0)
    assert price_of("opus") == MODEL_PRICES["claude-opus-5-5"]


def test_a_dated_model_name_is_priced_as_its_model_and_the_longest_name_wins() -> None:
    assert price_of("claude-sonnet-4-5-20250929") == MODEL_PRICES["claude-sonnet-4-5"]
    assert price_of("claude-sonnet-5") == MODEL_PRICES["claude-sonnet-5"]


def test_an_unknown_model_is_priced_by_its_family_else_as_the_dearest() -> None:
    assert price_of("claude-haiku-9") == MODEL_PRICES["claude-haiku-4-5"]
    assert price_of("my-gateway-model") == max(MODEL_PRICES.values(), key=lambda price: price.input)


def test_a_price_is_per_million_tokens_in_and_out() -> None:
    assert Price(2.0, 10.0).cost(1_000_000, 100_000) == 3.0


def test_the_cache_key_keeps_the_exact_model_string_so_an_alias_is_its_own_key(tmp_path: Path) -> None:
    assert is_alias("sonnet") and not is_alias(DEFAULT_MODEL)
    assert answer_key(Config(root=tmp_path, model="sonnet"))["model"] == "sonnet"
    assert answer_key(Config(root=tmp_path, model="sonnet")) != answer_key(Config(root=tmp_path))


def test_the_cli_version_is_not_in_the_cache_key(tmp_path: Path) -> None:
    assert not any("version" in key and key != "prompt_version" for key in answer_key(Config(root=tmp_path)))
