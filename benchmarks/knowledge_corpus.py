"""The retrieval benchmark's corpus: MSP problems, each with seed phrasings (what resolved
sessions said), held-back phrasings (only ever used as queries), facts and the fix that
worked. Families that share words on purpose (Outlook password vs Outlook search vs Outlook
calendar; VPN vs Wi-Fi; printer offline vs printer jams) are each other's decoys."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    key: str
    seeds: tuple[str, ...]
    queries: tuple[str, ...]  # held back: never indexed
    facts: tuple[str, ...]
    fix: str
    steps: tuple[str, ...]


F = Family
FAMILIES: tuple[Family, ...] = (
    F("outlook_password", (
        "Outlook keeps asking for a password after {user} changed it",
        "Outlook credential prompt loops on {device} for {user}",
        "{user} at {client} gets the Outlook sign-in box over and over",
        "password popup in Outlook won't go away since the reset"),
      ("outlook prompting for credentials again and again", "outlook wants pw repeatedly after a reset"),
      ("Outlook for Microsoft 365 on Windows 11", "OWA signs in fine", "Password changed yesterday"),
      "Remove the stale Office credentials",
      ("Close Outlook", "Credential Manager > Windows Credentials", "Remove MicrosoftOffice16_Data entries",
       "Start Outlook and sign in")),
    F("outlook_search", (
        "Outlook search returns no results for {user}",
        "searching mail in Outlook finds nothing on {device}",
        "{user} cannot find emails with Outlook search at {client}",
        "Outlook instant search incomplete results"),
      ("outlook search is empty even for yesterday's messages", "can't search mailbox in outlook desktop"),
      ("Windows Search service running", "Indexing status shows items remaining"),
      "Rebuild the Outlook search index",
      ("Control Panel > Indexing Options", "Advanced > Rebuild", "Wait for indexing to finish")),
    F("outlook_calendar", (
        "shared calendar not updating in Outlook for {user}",
        "Outlook calendar appointments missing on {device}",
        "{user} at {client} sees an old version of the team calendar",
        "calendar sync stuck in Outlook desktop"),
      ("meetings don't show up in the shared calendar in outlook", "outlook calendar out of date vs web"),
      ("OWA shows the calendar correctly", "Cached Exchange Mode on"),
      "Turn off shared folder caching",
      ("File > Account Settings > Change", "More Settings > Advanced",
       "Untick Download shared folders", "Restart Outlook")),
    F("mfa_new_phone", (
        "{user} got a new phone and can't do MFA",
        "Authenticator app lost after phone replacement for {user} at {client}",
        "MFA prompts go to the old phone of {user}",
        "cannot approve sign in, authenticator missing on new mobile"),
      ("lost authenticator after switching phones", "multi factor codes no longer arrive new handset"),
      ("Entra ID account", "Old phone was wiped"),
      "Require re-registration of MFA",
      ("Entra admin center > Users > Authentication methods", "Require re-register MFA",
       "User signs in and registers Authenticator on the new phone")),
    F("account_lockout", (
        "{user} account keeps getting locked out",
        "AD account locks every few minutes for {user} at {client}",
        "repeated lockouts on domain account after password change",
        "user locked out again and again on {device}"),
      ("domain user lockout loop", "account lockouts keep happening every morning"),
      ("Event 4740 on the PDC emulator", "Old password saved on a phone"),
      "Remove the old password from the mobile mail profile",
      ("Find the source with event 4740 caller computer", "Update the password on the phone mail app",
       "Unlock-ADAccount -Identity {user}")),
    F("vpn_connect", (
        "VPN won't connect for {user} from home",
        "FortiClient VPN fails at 98 percent on {device}",
        "{user} at {client} cannot establish the SSL VPN tunnel",
        "remote access VPN disconnects immediately"),
      ("can't get onto the vpn from home office", "vpn tunnel never comes up, stuck connecting"),
      ("Home internet works", "Certificate warning shown"),
      "Reinstall the VPN client and import the new certificate",
      ("Uninstall FortiClient", "Install the current version", "Import the CA certificate",
       "Reconnect")),
    F("wifi_drops", (
        "Wi-Fi keeps dropping on {device} at {client}",
        "wireless disconnects every few minutes for {user}",
        "laptop loses WiFi in the office but not at home",
        "intermittent wireless connection in meeting room"),
      ("wifi connection unstable, drops constantly", "wireless network keeps cutting out on the laptop"),
      ("Intel AX201 adapter", "Other devices fine"),
      "Update the wireless driver and disable power saving",
      ("Device Manager > Network adapters", "Update the Intel driver",
       "Power Management: untick Allow the computer to turn off this device")),
    F("printer_offline", (
        "printer shows offline for {user}",
        "network printer offline on {device} at {client}",
        "can't print, the HP printer says offline",
        "print jobs stuck because printer is offline"),
      ("printer status offline though it's powered on", "everyone sees the copier as offline"),
      ("Printer has a DHCP address", "Ping to the old IP fails"),
      "Reserve the printer IP and update the port",
      ("Add a DHCP reservation", "Printer properties > Ports", "Point the TCP/IP port at the reserved IP")),
    F("printer_jam", (
        "printer keeps jamming paper for {user}",
        "paper jam error on the copier at {client}",
        "the Ricoh reports a jam in tray 2",
        "constant paper jams on the office printer"),
      ("copier paper jam message won't clear", "sheets get stuck inside the printer every print"),
      ("Tray 2 uses 80gsm paper", "Rollers worn"),
      "Replace the pickup rollers of tray 2",
      ("Open tray 2", "Replace the pickup and feed rollers", "Print a test page")),
    F("disk_full", (
        "C drive full on {device}",
        "low disk space warning for {user} at {client}",
        "server disk space running out",
        "no space left on the system drive"),
      ("hard drive almost full, PC slow", "system drive red in explorer, zero GB free"),
      ("WinSxS 12 GB", "Temp folders 20 GB"),
      "Clean up temp files and component store",
      ("Run Disk Cleanup with system files", "Dism /Online /Cleanup-Image /StartComponentCleanup",
       "Empty C:\\Windows\\Temp")),
    F("slow_pc", (
        "computer is very slow for {user}",
        "{device} takes ages to boot at {client}",
        "PC sluggish, apps freeze",
        "laptop performance terrible since last week"),
      ("workstation crawling, everything takes forever", "machine really laggy opening programs"),
      ("100 percent disk usage", "HDD not SSD"),
      "Replace the hard disk with an SSD",
      ("Clone the disk to an SSD", "Swap the drive", "Check boot time")),
    F("teams_audio", (
        "no sound in Teams calls for {user}",
        "Teams microphone not working on {device}",
        "people can't hear {user} in Teams meetings at {client}",
        "Teams audio device not detected"),
      ("colleagues can't hear me on teams", "headset mic silent in teams meetings"),
      ("USB headset", "Works in Zoom"),
      "Select the headset in Teams device settings",
      ("Teams > Settings > Devices", "Choose the headset for speaker and microphone", "Make a test call")),
    F("onedrive_sync", (
        "OneDrive not syncing for {user}",
        "OneDrive stuck processing changes on {device}",
        "files don't upload to OneDrive at {client}",
        "sync pending forever in OneDrive"),
      ("onedrive sync stuck, red x on files", "documents not backing up to onedrive cloud"),
      ("Path too long error", "Files over 400 characters"),
      "Shorten the paths and reset OneDrive",
      ("Rename deep folders", "%localappdata%\\Microsoft\\OneDrive\\onedrive.exe /reset", "Restart OneDrive")),
    F("mailbox_full", (
        "mailbox full, {user} can't send email",
        "Exchange Online mailbox over quota at {client}",
        "{user} gets mailbox storage limit warning",
        "cannot send or receive, quota exceeded"),
      ("email quota reached, sending blocked", "inbox storage limit hit"),
      ("50 GB mailbox", "Archive not enabled"),
      "Enable the online archive",
      ("Exchange admin center > Mailboxes", "Enable archive", "Apply a retention policy to move old mail")),
    F("mail_delivery", (
        "external emails not arriving for {user}",
        "customers' mail bounces to {client}",
        "mail from outside is delayed or lost",
        "incoming email stopped for the domain"),
      ("people outside can't email us", "inbound mail missing since this morning"),
      ("MX record points to old filter", "Message trace shows nothing"),
      "Fix the MX record",
      ("DNS zone > MX", "Point MX to the Exchange Online endpoint", "Wait for TTL and run a message trace")),
    F("dns_resolution", (
        "websites won't load but ping to IP works at {client}",
        "DNS not resolving on {device}",
        "internal names don't resolve for {user}",
        "name resolution fails on the LAN"),
      ("sites by name fail but IP addresses work", "nslookup times out for everything"),
      ("DNS server set to an old DC", "ipconfig shows 10.0.0.5"),
      "Point DHCP option 6 at the current DNS servers",
      ("DHCP scope options > 006 DNS Servers", "Set the current DC addresses", "ipconfig /renew and ipconfig /flushdns")),
    F("internet_down", (
        "whole office has no internet at {client}",
        "internet outage for all users",
        "no connectivity at the site since the storm",
        "WAN down, firewall shows link down"),
      ("everyone offline, no web access anywhere in the office", "site lost its internet connection"),
      ("ISP modem lights red", "Firewall WAN interface down"),
      "Power cycle the ISP modem and open a fault ticket",
      ("Power cycle the modem", "Call the ISP with the circuit id", "Confirm the WAN comes back")),
    F("rdp_fails", (
        "remote desktop connection fails for {user}",
        "can't RDP to {device}",
        "RDP says the remote computer can't be reached at {client}",
        "remote desktop credentials didn't work"),
      ("unable to remote in to the office pc", "mstsc won't connect to the workstation"),
      ("NLA required", "User not in Remote Desktop Users"),
      "Add the user to Remote Desktop Users",
      ("Computer Management > Local Users and Groups", "Remote Desktop Users > Add the user", "Retry mstsc")),
    F("file_share", (
        "mapped drive missing for {user}",
        "can't access the shared folder at {client}",
        "S: drive disconnected on {device}",
        "network share access denied"),
      ("network drive letter gone after login", "shared drive says no permission"),
      ("GPO drive map", "User moved OU"),
      "Fix the drive mapping GPO targeting",
      ("Group Policy Management", "Item-level targeting: add the new OU", "gpupdate /force")),
    F("office_activation", (
        "Office says unlicensed product for {user}",
        "Microsoft 365 apps activation failed on {device}",
        "Word shows product activation failed at {client}",
        "Excel in reduced functionality mode"),
      ("office apps unlicensed banner", "word and excel asking to activate"),
      ("License assigned in admin center", "Shared computer activation off"),
      "Reset Office activation state",
      ("Sign out of all Office apps", "Run the Microsoft Support and Recovery Assistant",
       "Sign in again")),
    F("phishing", (
        "{user} clicked a phishing link",
        "suspicious email with a fake Microsoft login at {client}",
        "user entered password on a phishing site",
        "possible credential theft from an email link"),
      ("someone typed their credentials into a fake login page", "staff member fell for a phishing email"),
      ("Sign-ins from abroad", "Inbox rule forwarding mail"),
      "Reset the password, revoke sessions and remove rules",
      ("Reset the password", "Revoke-MgUserSignInSession -UserId {user}",
       "Delete the forwarding inbox rule", "Check the sign-in logs")),
    F("backup_failed", (
        "backup job failed last night at {client}",
        "Veeam backup error on the file server",
        "nightly backup failing with VSS error",
        "backup job reports failed status"),
      ("last night's backups did not complete", "veeam job red, snapshot error"),
      ("VSS writer failed", "Event 8193"),
      "Restart the failed VSS writer service and rerun the job",
      ("vssadmin list writers", "Restart the service of the failed writer", "Retry the job")),
    F("bitlocker_recovery", (
        "BitLocker recovery key screen on {device}",
        "{user} laptop asks for BitLocker recovery key at {client}",
        "boot stops at BitLocker recovery",
        "encryption recovery prompt after BIOS update"),
      ("laptop wants the 48 digit recovery key", "stuck on the blue bitlocker screen at startup"),
      ("BIOS updated yesterday", "Key stored in Entra ID"),
      "Enter the recovery key from Entra ID and suspend BitLocker for updates",
      ("Entra admin center > Devices > BitLocker keys", "Enter the key", "manage-bde -protectors -disable C: -RebootCount 1")),
    F("teams_login", (
        "Teams won't sign in for {user}",
        "Teams stuck on loading screen on {device}",
        "Microsoft Teams login error at {client}",
        "Teams shows we're sorry, we've run into an issue"),
      ("teams app never finishes signing in", "can't log into teams desktop app"),
      ("Web Teams works", "New Teams client"),
      "Clear the Teams cache",
      ("Quit Teams", "Delete %localappdata%\\Packages\\MSTeams_8wekyb3d8bbwe\\LocalCache", "Start Teams")),
)

USERS = ("jane", "tom", "priya", "li", "marco", "sara", "ahmed", "olga", "ben", "chloe")
CLIENTS = ("Acme", "Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Hooli")
DEVICES = ("PC-0142", "LT-077", "WS-12", "laptop", "desktop", "Surface", "MacBook", "the thin client")
