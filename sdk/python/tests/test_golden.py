"""Golden fixtures (tests/fixtures/certificates/expected.json): the Python verdict is the Rust verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest

import keepsake
from keepsake import ed25519
from conftest import FIXTURES, load, read

EXPECTED = load("expected.json")


def verdict(text: Any, genesis: Any) -> str:
    try:
        keepsake.verify_certificate(text, genesis)
        return "valid"
    except keepsake.VerifyError as e:
        return e.code


@pytest.mark.parametrize("case", EXPECTED["certificates"], ids=lambda c: f"{c['file']}@{c['genesis']}")
def test_certificate_fixture(case: dict[str, str]) -> None:
    assert verdict(read(case["file"]), FIXTURES / case["genesis"]) == case["verdict"]


@pytest.mark.parametrize("case", EXPECTED["statuses"], ids=lambda c: f"{c['file']}-for-{c['certificate']}")
def test_status_fixture(case: dict[str, str]) -> None:
    genesis = FIXTURES / "genesis.json"
    cert = keepsake.verify_certificate(read(case["certificate"]), genesis)
    try:
        got = keepsake.verify_status(read(case["file"]), genesis, cert).status
    except keepsake.VerifyError as e:
        got = e.code
    assert got == case["verdict"]


def test_every_fixture_without_the_openssl_fast_path() -> None:
    ed25519.set_fast_path(False)
    try:
        for case in EXPECTED["certificates"]:
            assert verdict(read(case["file"]), FIXTURES / case["genesis"]) == case["verdict"], case
    finally:
        ed25519.set_fast_path(True)


def test_the_failing_step_of_each_tampered_fixture() -> None:
    steps = {
        "tampered-record.json": "record",
        "tampered-holder.json": "record",
        "tampered-proof.json": "inclusion",
        "tampered-leaf.json": "inclusion",
        "tampered-header.json": "checkpoint",
        "tampered-signature.json": "checkpoint",
        "too-few-signatures.json": "checkpoint",
        "wrong-chain.json": "chain",
        "malformed.json": "file",
        "tampered-consistency.json": "consistency",
    }
    for file, step in steps.items():
        with pytest.raises(keepsake.VerifyError) as e:
            keepsake.verify_certificate(read(file), FIXTURES / "genesis.json")
        assert e.value.step == step, file


def test_what_a_valid_certificate_reports() -> None:
    v = keepsake.verify_certificate(read("valid.json"), FIXTURES / "genesis.json")
    cert = load("valid.json")
    assert v.certificate_id.hex() == cert["certificate_id"]
    assert v.record.edition == 2 and v.record.series_name == cert["record"]["series_name"]
    # The node serves a quorum of the four precommits (3), not all of them.
    assert (v.signed_power, v.total_power, v.set_changes, v.previous_height) == (3, 4, 0, None)
    assert v.genesis_hash.hex() == "ea633fbd89031a85def6edc2ef551f5833a87e7b5cee18e71338d6265e6a799c"
    r = keepsake.verify_certificate(read("refreshed.json"), FIXTURES / "genesis.json")
    assert r.previous_height is not None and r.previous_height < r.checkpoint_height
    s = keepsake.verify_certificate(read("set-changes-valid.json"), FIXTURES / "genesis.json")
    assert s.set_changes == 2


def test_the_revocation_of_the_revoked_fixture() -> None:
    genesis = FIXTURES / "genesis.json"
    cert = keepsake.verify_certificate(read("revoked.json"), genesis)
    st = keepsake.verify_status(read("revoked-status.json"), genesis, cert)
    assert st.status == "revoked"
    assert st.revocation is not None
    assert (st.revocation.reason, st.revocation.by, st.revocation.height) == ("minted in error", "issuer", 4)
    active = keepsake.verify_status(
        read("active-status.json"), genesis, keepsake.verify_certificate(read("valid.json"), genesis)
    )
    assert active.revocation is None and active.checkpoint_height == 5
    gov = keepsake.verify_status(
        read("set-revoked-status.json"), genesis, keepsake.verify_certificate(read("set-revoked.json"), genesis)
    )
    assert gov.revocation is not None
    assert (gov.revocation.by, gov.revocation.reason, gov.revocation.height) == ("governance", "licence withdrawn", 12)


def test_life_fixtures_report_synthesis_burn_and_draw() -> None:
    genesis = FIXTURES / "genesis.json"
    syn = keepsake.verify_certificate(read("life-synthesized.json"), genesis)
    assert syn.recipe == 0 and len(syn.record.synthesized_from) == 2 and syn.blind_box is None
    burned = keepsake.verify_certificate(read("life-burned.json"), genesis)
    st = keepsake.verify_status(read("life-burned-status.json"), genesis, burned)
    assert st.status == "burned" and st.burned is not None
    out = load("life-synthesized.json")
    assert st.burned.into.hex() == out["certificate_id"]
    assert st.burned.tx_id.hex() == out["record"]["mint_tx"]
    box = keepsake.verify_certificate(read("life-blind-box.json"), genesis)
    assert box.blind_box is not None and box.blind_box.reveal is not None and box.record.variant is not None
    unrevealed = keepsake.verify_certificate(read("life-blind-box-unrevealed.json"), genesis)
    assert unrevealed.blind_box is not None and unrevealed.blind_box.reveal is None
    assert unrevealed.record.variant is None


@pytest.mark.parametrize(
    "file,field",
    [
        ("life-tampered-synthesized-from.json", "record.synthesized_from"),
        ("life-variant-not-drawn.json", "record.variant.index"),
        ("life-variant-without-reveal.json", "record.variant"),
        ("life-reveal-other-series.json", "reveal.series_id"),
        ("life-reveal-wrong-seed.json", "reveal.seed"),
    ],
)
def test_each_hostile_life_fixture_fails_on_its_field(file: str, field: str) -> None:
    with pytest.raises(keepsake.VerifyError) as e:
        keepsake.verify_certificate(read(file), FIXTURES / "genesis.json")
    assert e.value.code == "CertificateMismatch" and e.value.step == "record"
    assert e.value.message.startswith(f"certificate field {field} does not match")


def test_a_burn_that_does_not_list_the_certificate() -> None:
    genesis = FIXTURES / "genesis.json"
    kept = keepsake.verify_certificate(read("life-kept.json"), genesis)
    with pytest.raises(keepsake.VerifyError) as e:
        keepsake.verify_status(read("life-burn-not-listed-status.json"), genesis, kept)
    assert e.value.code == "CertificateMismatch" and e.value.step == "burn"
    assert e.value.message.startswith("certificate field burn.inputs does not match")


def test_certificates_round_trip_to_the_same_json() -> None:
    for case in EXPECTED["certificates"]:
        if case["verdict"] == "Malformed":
            continue
        cert = keepsake.Certificate.from_text(read(case["file"]))
        assert json.loads(cert.to_text()) == load(case["file"]), case["file"]
    st = keepsake.CertificateStatus.from_text(read("life-burned-status.json"))
    assert json.loads(st.to_text()) == load("life-burned-status.json")
