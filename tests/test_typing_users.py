"""Users' own programs type-check under ``mypy --strict``: README's blocks copied as they
are, imports of every public name, and the list answers a user indexes without a check."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coupontools_async import models
from coupontools_async._convert import build_converter, structure
from coupontools_async._generated.events import EVENT_TYPE_PREFIXES, EVENT_TYPES
from tests._spec import ROOT

PUBLIC_MODULES = [
    "coupontools_async",
    "coupontools_async.bulk",
    "coupontools_async.errors",
    "coupontools_async.fastapi",
    "coupontools_async.sandbox",
    "coupontools_async.webhooks",
]
EVENT_CLASSES = sorted(
    {model.__name__ for model in EVENT_TYPES.values()}
    | {model.__name__ for _, model in EVENT_TYPE_PREFIXES}
)
README_BLOCK = re.compile(r"```python\n(.*?)```", re.S)

# What a user writes with the event classes: imported from webhooks, matched, annotated.
EVENTS_PROGRAM = """\
from coupontools_async import webhooks
from coupontools_async.webhooks import (
    {names},
    UnknownEvent,
    WebhookEvent,
)


def describe(body: bytes) -> str:
    event: WebhookEvent = webhooks.parse(body)
    match event:
        case CouponEvent(session=session):
            return f"coupon {{event.type}} {{session}}"
        case UnknownEvent(data=data):
            return f"unknown {{sorted(data)}}"
        case _:
            return event.id


def first_coupon(event: CouponEvent | None) -> str:
    return "" if event is None else event.id
"""

# A FastAPI app using the dependencies by the names README gives them.
FASTAPI_PROGRAM = """\
from fastapi import FastAPI

from coupontools_async.fastapi import (
    CoupontoolsClient,
    VerifiedWebhookEvent,
    WebhookEvent,
    coupontools_lifespan,
)
from coupontools_async.webhooks import CouponEvent

app = FastAPI(lifespan=coupontools_lifespan())


@app.post("/webhooks")
async def receive(event: WebhookEvent) -> dict[str, str]:
    if isinstance(event, CouponEvent):
        return {"session": event.session or ""}
    return {"type": event.type}


@app.post("/verified")
async def verified(event: VerifiedWebhookEvent, ct: CoupontoolsClient) -> dict[str, str]:
    return {"id": event.id, "client": type(ct).__name__}
"""


def run_mypy(directory: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` as a user runs it: outside our repository, none of our config."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file",
            str(directory / "mypy.ini"),
            "--python-executable",
            sys.executable,
            str(directory),
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def user_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """README's python blocks and the import programs, each a module of one directory."""
    directory = tmp_path_factory.mktemp("user_programs")
    (directory / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    files: dict[str, Path] = {}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for number, block in enumerate(README_BLOCK.findall(readme)):
        files[f"readme_block_{number}"] = directory / f"readme_block_{number}.py"
        files[f"readme_block_{number}"].write_text(block, encoding="utf-8")
    files["events"] = directory / "events_program.py"
    files["events"].write_text(
        EVENTS_PROGRAM.format(names=",\n    ".join(EVENT_CLASSES)), encoding="utf-8"
    )
    files["fastapi"] = directory / "fastapi_program.py"
    files["fastapi"].write_text(FASTAPI_PROGRAM, encoding="utf-8")
    imports = []
    for module_name in PUBLIC_MODULES:
        names = importlib.import_module(module_name).__all__
        imports.append(f"from {module_name} import {', '.join(names)}")
        imports.append(f"print({', '.join(names)})")
    files["imports"] = directory / "imports_program.py"
    files["imports"].write_text("\n".join(imports) + "\n", encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def mypy_report(user_programs: dict[str, Path]) -> str:
    directory = next(iter(user_programs.values())).parent
    result = run_mypy(directory)
    assert "Success" in result.stdout or "error:" in result.stdout, result.stderr
    return result.stdout


def errors_in(report: str, path: Path) -> list[str]:
    return [line for line in report.splitlines() if line.startswith(f"{path.name}:")]


def test_readme_has_python_blocks_to_check(user_programs: dict[str, Path]) -> None:
    assert sum(name.startswith("readme_block_") for name in user_programs) >= 9


def test_every_readme_block_passes_mypy_strict_when_copied(
    user_programs: dict[str, Path], mypy_report: str
) -> None:
    failing = {
        name: errors_in(mypy_report, path)
        for name, path in user_programs.items()
        if name.startswith("readme_block_") and errors_in(mypy_report, path)
    }
    assert failing == {}


def test_importing_event_classes_from_webhooks_passes_mypy_strict(
    user_programs: dict[str, Path], mypy_report: str
) -> None:
    assert "CouponEvent" in user_programs["events"].read_text(encoding="utf-8")
    assert errors_in(mypy_report, user_programs["events"]) == []


def test_a_fastapi_app_using_the_documented_dependencies_passes_mypy_strict(
    user_programs: dict[str, Path], mypy_report: str
) -> None:
    assert errors_in(mypy_report, user_programs["fastapi"]) == []


def test_every_public_name_is_explicitly_exported(
    user_programs: dict[str, Path], mypy_report: str
) -> None:
    assert errors_in(mypy_report, user_programs["imports"]) == []


def test_every_event_class_is_importable_from_webhooks() -> None:
    from coupontools_async import webhooks

    for name in EVENT_CLASSES:
        assert getattr(webhooks, name) is getattr(models, name)
        assert name in webhooks.__all__


# The documented coupon/list answer (FACTS.md: `{status, coupon_info: [{ID, code, ...}]}`)
# and the same answers where the list is absent, null or PHP's empty object.
COUPON_LIST = {"coupon_info": [{"ID": "cam_12345", "code": "ABC", "name": "Spring"}]}


@pytest.mark.parametrize("generated", [True, False], ids=["generated", "generic"])
@pytest.mark.parametrize(
    "payload",
    [{}, {"coupon_info": None}, {"coupon_info": {}}, {"coupon_info": ""}],
    ids=["absent", "null", "empty-object", "empty-string"],
)
def test_an_empty_coupon_list_decodes_to_an_empty_list_not_none(
    payload: dict[str, object], generated: bool
) -> None:
    converter = build_converter(generated_decoders=generated)
    answer = converter.structure(payload, models.CouponListResponse)
    assert answer.coupon_info == []


def test_the_documented_coupon_list_still_decodes_its_coupons() -> None:
    answer = structure(COUPON_LIST, models.CouponListResponse)
    assert [coupon.id for coupon in answer.coupon_info] == ["cam_12345"]


def test_a_session_page_without_data_is_an_empty_page() -> None:
    # FACTS.md (evidence, grade A): "`data` may be absent on an empty page", with
    # amount_of_results "0".
    page = structure({"amount_of_results": "0"}, models.CouponSessionListResponse)
    assert page.data == []


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (models.CouponListResponse, "coupon_info"),
        (models.CouponSessionListResponse, "data"),
        (models.LoyaltyUserListResponse, "users"),
        (models.SmsGroupListResponse, "group"),
        (models.EmailGroupListResponse, "group"),
        (models.DirectoryUserListResponse, "users"),
        (models.SubaccountListResponse, "subaccounts"),
    ],
)
def test_v3_list_answers_are_lists_each_instance_its_own(model: type[object], field: str) -> None:
    first, second = model(), model()
    assert getattr(first, field) == []
    getattr(first, field).append("x")
    assert getattr(second, field) == []  # a factory, not one shared default list


def test_a_list_answer_still_refuses_a_value_that_is_not_a_list() -> None:
    from coupontools_async._convert import DecodeError

    with pytest.raises(DecodeError, match="expected a list"):
        structure({"coupon_info": 7}, models.CouponListResponse)


@pytest.mark.parametrize("model", [models.SmsContactListResponse, models.EmailContactListResponse])
def test_a_group_without_contacts_lists_none_as_an_empty_list(
    model: type[models.SmsContactListResponse | models.EmailContactListResponse],
) -> None:
    # v3 sends its counts as strings (FACTS.md: "amount_of_contacts": "2").
    answer = structure({"group_id": "12", "amount_of_contacts": "0"}, model)
    assert answer.contact == []
