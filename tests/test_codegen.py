"""codegen turns the spec into the committed generated layer, and notices drift."""

from __future__ import annotations

import copy
import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.__main__ import main
from codegen.generate import OUT, SpecError, check, load_spec, render
from coupontools_async._generated import OPERATIONS, models
from coupontools_async._generated.api import sessions, wallet_users
from coupontools_async._generated.groups import GROUPS
from tests._spec import ROOT, SPEC_PATH, operations

OUT_PACKAGE = "coupontools_async._generated"


@pytest.fixture(scope="module")
def spec_data() -> dict[str, object]:
    return load_spec(SPEC_PATH)


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_committed_generated_code_matches_a_fresh_run() -> None:
    assert check(OUT, SPEC_PATH) == []


def test_check_command_exits_zero_when_in_sync() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_changing_one_field_without_regenerating_fails_the_check(
    tmp_path: Path, spec_data: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas = spec_data["components"]["schemas"]  # type: ignore[index]
    schemas["WalletUser"]["properties"]["first_name"]["description"] = "Changed."
    changed = _write(tmp_path, spec_data)
    assert main(["--check", "--spec", str(changed)]) == 1
    err = capsys.readouterr().err
    assert "differs: models.py" in err


def test_a_new_operation_without_regenerating_fails_the_check(
    tmp_path: Path, spec_data: dict[str, object]
) -> None:
    paths: dict[str, Any] = spec_data["paths"]  # type: ignore[assignment]
    copy = dict(paths["/v3/coupon/info"]["post"])
    copy["operationId"] = "coupons_get_again"
    paths["/v3/coupon/info2"] = {"post": copy}
    diffs = check(OUT, _write(tmp_path, spec_data))
    assert "differs: api/coupons.py" in diffs


def test_regenerating_into_a_fresh_directory_writes_every_module(tmp_path: Path) -> None:
    out = tmp_path / "_generated"
    assert main(["--out", str(out)]) == 0
    names = {p.relative_to(out).as_posix() for p in out.rglob("*.py")}
    assert {"__init__.py", "models.py", "events.py", "api/wallet_users.py"} <= names
    assert check(out, SPEC_PATH) == []


def test_spec_rule_violations_are_reported_not_generated(
    tmp_path: Path, spec_data: dict[str, object]
) -> None:
    op = spec_data["paths"]["/v3/coupon/info"]["post"]  # type: ignore[index]
    del op["x-idempotent"]
    with pytest.raises(SpecError, match="x-idempotent"):
        render(spec_data, tmp_path / "out")
    assert main(["--spec", str(_write(tmp_path, spec_data)), "--out", str(tmp_path / "o")]) == 2


def test_every_spec_operation_has_a_generated_method_and_metadata() -> None:
    spec_ops = {op["operationId"]: (path, method, op) for path, method, op in operations()}
    assert set(OPERATIONS) == set(spec_ops)
    for op_id, (path, method, op) in spec_ops.items():
        meta = OPERATIONS[op_id]
        assert (meta.method, meta.path) == (method, path)
        assert meta.idempotent is op["x-idempotent"]
        assert meta.api_version == op["x-api-version"]
        codes = tuple((e["code"], e["message"]) for e in op.get("x-error-codes") or [])
        assert meta.error_codes == codes


def test_v4_path_ids_are_positional_and_v3_parameters_keyword_only() -> None:
    sig = inspect.signature(wallet_users.WalletUsersResource.add_stamps)
    kinds = {name: p.kind for name, p in sig.parameters.items()}
    assert kinds["card_id"] is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert kinds["user_id"] is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert kinds["amount"] is inspect.Parameter.KEYWORD_ONLY
    sig = inspect.signature(sessions.SessionsResource.update)
    assert sig.parameters["couponsession"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["operation"].default is None


def test_generated_methods_have_docstrings_from_the_spec() -> None:
    doc = inspect.getdoc(sessions.SessionsResource.update) or ""
    assert doc.startswith("Update session")
    assert doc.splitlines()[2] == "POST /v3/couponsession/update · sessions_update · not idempotent"
    assert "couponsession:" in doc
    assert "358: This session was already validated" in doc


def test_models_keep_wire_names_in_metadata() -> None:
    import attrs

    fields = {f.name: f for f in attrs.fields(models.LoyaltyUser)}
    assert fields["id"].metadata["wire"] == "ID"


def test_pagination_metadata_comes_from_the_spec() -> None:
    pag = OPERATIONS["wallet_users_list"].pagination
    assert pag is not None
    assert pag.page_param == "pagination.page"
    assert pag.items == ""
    assert OPERATIONS["sessions_list_all"].pagination is not None


ESCAPE_HATCHES = ("extra_body", "extra_query", "extra_headers")


def test_every_generated_method_takes_the_escape_hatches_keyword_only() -> None:
    from coupontools_async import AsyncClient

    ct = AsyncClient("id", "secret")
    for op_id, op in OPERATIONS.items():
        module = importlib.import_module(f"{OUT_PACKAGE}.api.{op.group}")
        resource = getattr(module, GROUPS[op.group][1])
        function = getattr(resource, op_id[len(op.group) + 1 :])
        method = getattr(getattr(ct, op.group), op_id[len(op.group) + 1 :])
        for target in (function, method):
            params = inspect.signature(target).parameters
            if "extras" in params:  # a composite of _resources: **extras: Unpack[Extras]
                assert params["extras"].kind is inspect.Parameter.VAR_KEYWORD, op_id
                continue
            for name in ESCAPE_HATCHES:
                assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, (op_id, name)
                assert params[name].default is None, (op_id, name)


@pytest.mark.parametrize("name", ESCAPE_HATCHES)
def test_a_spec_parameter_named_like_an_escape_hatch_is_refused(tmp_path: Path, name: str) -> None:
    spec_data: dict[str, Any] = copy.deepcopy(load_spec(SPEC_PATH))
    op = spec_data["paths"]["/v3/coupon/info"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    schema["properties"][name] = {"type": "string"}
    with pytest.raises(SpecError, match=name):
        render(spec_data, tmp_path / "out")


def test_a_spec_field_named_extra_fields_is_refused(tmp_path: Path) -> None:
    spec_data: dict[str, Any] = copy.deepcopy(load_spec(SPEC_PATH))
    spec_data["components"]["schemas"]["WalletReward"]["properties"]["extra_fields"] = {
        "type": "string"
    }
    with pytest.raises(SpecError, match="extra_fields"):
        render(spec_data, tmp_path / "out")


def test_every_model_derives_from_the_base_that_keeps_unknown_keys() -> None:
    import attrs

    from coupontools_async._kernel import Model

    classes = [
        obj
        for obj in vars(models).values()
        if isinstance(obj, type) and attrs.has(obj) and obj.__module__ == models.__name__
    ]
    assert classes
    for cls in classes:
        assert issubclass(cls, Model), cls
        assert "extra_fields" not in attrs.fields_dict(cls)


# ------------------------------------------------------------------ golden record


def test_the_feature_spec_generates_the_committed_golden_record_byte_for_byte() -> None:
    from codegen.generate import GOLDEN, GOLDEN_PACKAGE, GOLDEN_SPEC

    assert check(GOLDEN, GOLDEN_SPEC, GOLDEN_PACKAGE) == []


def test_a_changed_feature_spec_is_caught_by_the_golden_comparison(tmp_path: Path) -> None:
    from codegen.generate import GOLDEN, GOLDEN_PACKAGE, GOLDEN_SPEC

    data = load_spec(GOLDEN_SPEC)
    data["paths"]["/v3/widget/list"]["post"]["summary"] = "List every widget"
    assert check(GOLDEN, _write(tmp_path, data), GOLDEN_PACKAGE) == ["differs: api/widgets.py"]


def test_the_golden_record_covers_every_construct_codegen_supports() -> None:
    from tests.codegen import golden
    from tests.codegen.golden import events, groups, models, rules

    assert list(groups.GROUPS) == ["widgets", "gadgets_v4"]  # a tag with no operation: none
    ops = golden.OPERATIONS
    assert ops["widgets_list"].pagination is not None
    assert ops["widgets_list"].error_classes == ((507, "NotFoundError"),)
    assert ops["widgets_list"].assumptions == ("The page size is assumed.",)
    assert ops["widgets_update"].require_any_of == (("name", "tags"),)
    assert ops["widgets_image"].response_kind == "binary"
    assert ops["gadgets_v4_create_many"].body_param == "gadgets"
    assert ops["gadgets_v4_create_many"].response_kind == "empty"
    assert [m.name for m in models.Color] == ["RED", "GREEN"]
    assert {"widget_created": models.WidgetEvent} == events.EVENT_TYPES
    assert (("widget_", models.WidgetEvent),) == events.EVENT_TYPE_PREFIXES
    assert [p.format for p in rules.MODEL_PARAMS[models.Owner]] == ["email", "e164"]
    assert hasattr(groups.Groups, "widgets")
    assert callable(golden.api.widgets.WidgetsResource.iter)
    assert callable(golden.api.gadgets_v4.GadgetsV4Resource.iter)


@pytest.mark.anyio
async def test_the_golden_pagers_ask_pages_as_their_metadata_says() -> None:
    from tests.codegen.golden import groups, models

    sent: list[tuple[str, Any]] = []

    class Client(groups.Groups):
        async def _request(self, operation: Any, **kwargs: Any) -> Any:
            sent.append((operation.id, kwargs["body"]))
            if operation.id == "widgets_list":
                page = kwargs["body"]["page"]
                return models.WidgetPage(data=[models.Widget(id=f"w{page}")] if page < 3 else [])
            return []

    client = Client()
    widgets = [w.id async for w in client.widgets.iter(shop="shp_1")]
    assert widgets == ["w1", "w2"]
    assert [body["page"] for _, body in sent] == [1, 2, 3]
    assert [g async for g in client.gadgets_v4.iter(4, per_page=5)] == []
    assert sent[-1] == ("gadgets_v4_list", {"pagination": {"page": 1, "per_page": 5}})
