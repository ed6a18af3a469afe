"""What a senior MSP engineer checks in the built-in flows: the safety warnings, the branches
that must exist, and risk labels that follow the engine's rubric (bot/engines/prompt.py:
password / MFA resets, GPO, DNS, DHCP and firewall changes are high)."""

from __future__ import annotations

import pytest

from bot.flows import all_paths, load_library
from bot.flows.model import ActionNode, FixNode, Flow, Node, QuestionNode

LIBRARY = load_library()
FLOWS = sorted(LIBRARY, key=lambda f: f.id)


def _texts(node: Node) -> list[str]:
    if isinstance(node, FixNode):
        return [node.title, *node.steps]
    if isinstance(node, ActionNode):
        return [node.action, node.command or "", node.help or ""]
    if isinstance(node, QuestionNode):
        return [node.question, node.help or "", *node.options]
    return []


def _flow_text(flow: Flow) -> str:
    return "\n".join(t for n in flow.nodes.values() for t in _texts(n)).lower()


def _order(flow: Flow, path: list[str], *node_ids: str) -> bool:
    return all(n in path for n in node_ids) and [path.index(n) for n in node_ids] == sorted(
        path.index(n) for n in node_ids
    )


def test_phishing_exports_then_disables_rules_then_removes_attacker_mfa_methods() -> None:
    flow = LIBRARY.flows["phishing-compromise"]
    export, disable, mfa = (
        flow.nodes["check_rules"],
        flow.nodes["disable_rules"],
        flow.nodes["remove_mfa_methods"],
    )
    assert isinstance(export, ActionNode) and export.kind == "check"
    assert "export" in export.action.lower() and "Export-Csv" in (export.command or "")
    assert isinstance(disable, ActionNode) and disable.kind == "change" and disable.risk == "high"
    assert "Disable-InboxRule" in (disable.command or "")
    assert "Remove-InboxRule" not in (disable.command or "")  # evidence is kept
    assert isinstance(mfa, ActionNode) and mfa.kind == "change" and mfa.risk == "high"
    assert "Remove-MgUserAuthentication" in (mfa.command or "")
    contained = [p for p in all_paths(flow) if "contain_account" in p]
    assert contained and all(
        _order(flow, p, "contain_account", "check_rules", "disable_rules", "remove_mfa_methods")
        for p in contained
    )


def test_phishing_isolates_the_device_when_the_scan_finds_a_threat() -> None:
    flow = LIBRARY.flows["phishing-compromise"]
    result = flow.nodes["clicked_result"]
    assert isinstance(result, QuestionNode)
    threat = [label for label in result.options if "threat" in label.lower()]
    assert threat and all(result.options[label] == "isolate_device" for label in threat)


def test_backup_warns_that_shrinking_shadow_storage_deletes_previous_versions() -> None:
    fix = LIBRARY.flows["backup-failure"].nodes["fix_shadow_storage"]
    assert isinstance(fix, FixNode) and fix.risk == "high"
    shrink = [s for s in fix.steps if "resize shadowstorage" in s.lower()]
    assert shrink and all(
        "previous versions" in s.lower() and "warning" in s.lower() for s in shrink
    )


def test_every_access_work_or_school_step_warns_about_unjoining_the_pc() -> None:
    seen = set()
    for flow in FLOWS:
        for node in flow.nodes.values():
            for text in _texts(node):
                if "access work or school" in text.lower():
                    seen.add(flow.id)
                    assert "unjoins the pc" in text.lower(), (flow.id, node.id)
    assert {"mfa", "outlook", "teams-onedrive-sharepoint", "office-activation"} <= seen


def test_outlook_has_a_branch_for_the_new_outlook_for_windows() -> None:
    flow = LIBRARY.flows["outlook"]
    status = flow.nodes["status_bar"]
    assert isinstance(status, QuestionNode)
    new = [label for label, target in status.options.items() if target == "fix_new_outlook"]
    assert new and all("new outlook" in label.lower() for label in new)
    fix = flow.nodes["fix_new_outlook"]
    assert isinstance(fix, FixNode)
    assert any("outlook (new)" in s.lower() and "reset" in s.lower() for s in fix.steps)
    assert any("com add-ins" in s.lower() for s in fix.steps)


def test_mail_has_a_dmarc_branch_and_treats_5_7_708_as_reputation_not_compromise() -> None:
    flow = LIBRARY.flows["mail-delivery"]
    auth = flow.nodes["auth_result"]
    assert isinstance(auth, QuestionNode)
    assert "fix_dmarc" in auth.options.values()
    ndr = flow.nodes["ndr_code"]
    assert isinstance(ndr, QuestionNode)
    target = [t for label, t in ndr.options.items() if "5.7.708" in label]
    assert target == ["fix_ip_reputation"]
    fix = flow.nodes["fix_ip_reputation"]
    assert isinstance(fix, FixNode)
    text = " ".join(fix.steps).lower()
    assert (
        "reputation" in text
        and "new or trial tenants" in text
        and "not a sign of compromise" in text
    )
    restricted = [t for label, t in ndr.options.items() if "5.1.8" in label]
    assert restricted == ["esc_outbound_blocked"]


def test_dns_checks_ipv6_dns_servers() -> None:
    flow = LIBRARY.flows["dns"]
    client = flow.nodes["client_dns"]
    assert isinstance(client, ActionNode) and "IPv4" not in (client.command or "")
    result = flow.nodes["client_result"]
    assert isinstance(result, QuestionNode) and "fix_ipv6_dns" in result.options.values()
    fix = flow.nodes["fix_ipv6_dns"]
    assert isinstance(fix, FixNode) and fix.risk == "high"


def test_slow_pc_does_not_run_dism_or_sfc_at_a_pre_boot_hang() -> None:
    flow = LIBRARY.flows["slow-pc"]
    stage = flow.nodes["update_stage"]
    assert isinstance(stage, QuestionNode) and "fix_preboot_update" in stage.options.values()
    fix = flow.nodes["fix_preboot_update"]
    assert isinstance(fix, FixNode)
    assert fix.steps[0].lower().startswith("do not run dism or sfc")
    assert not any(
        "/restorehealth" in s.lower() or "sfc /scannow" in s.lower() for s in fix.steps[1:]
    )
    for path in all_paths(flow):  # the online repair never follows the pre-boot answer
        if "fix_preboot_update" in path:
            assert "fix_update_reset" not in path


def test_rdp_knows_entra_joined_hosts_and_that_nla_is_not_credssp() -> None:
    flow = LIBRARY.flows["file-share-rdp"]
    creds = flow.nodes["fix_rdp_creds"]
    assert isinstance(creds, FixNode) and any("AzureAD\\user@" in s for s in creds.steps)
    error = flow.nodes["rdp_error"]
    assert isinstance(error, QuestionNode)
    assert {"fix_credssp", "fix_nla"} <= set(error.options.values())
    nla_labels = [label for label, t in error.options.items() if "Network Level" in label]
    assert nla_labels and all(error.options[label] == "fix_nla" for label in nla_labels)
    assert all("NLA" not in label for label, t in error.options.items() if t == "fix_credssp")


def test_vpn_checks_the_client_side_before_escalating_drops() -> None:
    flow = LIBRARY.flows["vpn"]
    drops = [p for p in all_paths(flow) if "esc_mtu" in p]
    assert drops and all("drops_check" in p and "drops_result" in p for p in drops)


def test_wifi_has_an_intermittent_branch() -> None:
    flow = LIBRARY.flows["internet-outage"]
    wifi = flow.nodes["wifi_check"]
    assert isinstance(wifi, QuestionNode)
    assert any("intermittent" in label.lower() for label in wifi.options)
    assert "fix_wifi_intermittent" in wifi.options.values()


def test_lockout_has_an_entra_cloud_only_branch() -> None:
    flow = LIBRARY.flows["account-lockout"]
    where = flow.nodes["where_locked"]
    assert isinstance(where, QuestionNode) and "entra_signins" in where.options.values()
    assert "50053" in _flow_text(flow)
    entra = [p for p in all_paths(flow) if "entra_signins" in p]
    assert entra and all("find_source" not in p for p in entra)  # no event 4740 in the cloud


def test_teams_resets_the_new_teams_client() -> None:
    fix = LIBRARY.flows["teams-onedrive-sharepoint"].nodes["fix_teams_cache"]
    assert isinstance(fix, FixNode)
    text = " ".join(fix.steps)
    assert "MSTeams_8wekyb3d8bbwe" in text and "ms-teams.exe" in text and "retired" in text


def test_printer_covers_smb_signing_on_windows_11_24h2_for_scan_to_folder() -> None:
    flow = LIBRARY.flows["printer"]
    scan = flow.nodes["scan_problem"]
    assert isinstance(scan, QuestionNode) and "fix_scan_smb_signing" in scan.options.values()
    fix = flow.nodes["fix_scan_smb_signing"]
    assert isinstance(fix, FixNode)
    text = " ".join(fix.steps).lower()
    assert "24h2" in text and "signing" in text and "do not turn signing off" in text


# Changes the rubric calls high: password / MFA resets and method changes, GPO, DNS records and
# forwarders, DHCP, firewall / gateway settings, deleting data.
HIGH_RISK = {
    "password-reset": ["fix_ad_reset", "fix_cloud_reset"],
    "mfa": ["fix_reregister", "fix_revoke_and_reregister", "fix_sms"],
    "vpn": ["fix_password", "fix_vpn_dns", "fix_sessions"],
    "account-lockout": ["fix_audit"],
    "dns": ["fix_forwarders", "fix_stale", "fix_ipv6_dns", "fix_filtering"],
    "internet-outage": ["fix_dns_forwarders", "fix_dhcp", "fix_power_cycle"],
    "mail-delivery": ["fix_spf", "fix_dkim", "fix_dmarc", "fix_mx"],
    "printer": ["fix_printer_ip"],
    "file-share-rdp": ["fix_rdp_host"],
    "phishing-compromise": ["contain_account", "disable_rules", "remove_mfa_methods"],
    "backup-failure": ["fix_shadow_storage", "fix_repository"],
}


@pytest.mark.parametrize("flow_id", sorted(HIGH_RISK))
def test_risk_labels_follow_the_engines_rubric(flow_id: str) -> None:
    flow = LIBRARY.flows[flow_id]
    for node_id in HIGH_RISK[flow_id]:
        node = flow.nodes[node_id]
        assert isinstance(node, FixNode | ActionNode) and node.risk == "high", node_id


def test_no_step_uses_the_retired_msonline_or_azuread_modules() -> None:
    retired = (
        "connect-msolservice",
        "get-msoluser",
        "set-msoluser",
        "connect-azuread",
        "get-azureaduser",
    )
    for flow in FLOWS:
        text = _flow_text(flow)
        assert not any(cmd in text for cmd in retired), flow.id


NEW_FLOWS = {
    "new_user_setup",
    "mailbox_permissions",
    "intune_enrollment",
    "bitlocker_recovery",
    "windows_update",
    "blue_screen",
    "dock_monitor",
    "audio_webcam",
    "mobile_mail",
    "ssl_certificate",
    "dhcp_exhaustion",
    "switch_port_poe",
}


def test_the_new_flows_phrasings_are_labelled_for_every_new_flow() -> None:
    from collections import Counter
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[1] / "data" / "flow_phrasings" / "new_flows.yaml"
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(items, list)
    for item in items:
        assert set(item) == {"text", "flow", "kind"}, item
        assert isinstance(item["text"], str) and item["text"].strip()
        assert item["kind"] == "problem" and item["flow"] in LIBRARY
    per_flow = Counter(item["flow"] for item in items)
    assert set(per_flow) == NEW_FLOWS
    assert min(per_flow.values()) >= 6
    assert len({item["text"].lower() for item in items}) == len(items)  # no duplicates
