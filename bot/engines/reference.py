"""A field reference of first checks, added to the cached system prompt only for models whose
minimum cacheable prompt is longer than our prompt (Claude Haiku 4.5: 4,096 tokens). Below that
minimum the API silently caches nothing, so every turn would pay for the whole prompt; real
reference material the model can use is a better way over the line than filler.
"""

FIELD_REFERENCE = """\
# Field reference: first checks by domain
Use these as starting points, not scripts; adapt to what the state already says.

## Microsoft 365 and Entra ID sign-in
- Sign-in logs (Entra admin centre > Users > Sign-in logs): the failure reason and error code, \
the client app, conditional access result, location and device. Filter by the user and the time \
of the report.
- Is it one user or many? Check the Microsoft 365 Service health page before touching accounts.
- MFA: registered methods (Entra > Users > Authentication methods), recent method changes, \
number matching prompts the user did not start (treat as possible compromise).
- Licences: Microsoft 365 admin centre > Users > Licences and apps; a removed or expired licence \
explains missing apps and mailboxes.
- Conditional access: the policy that applied is named in the sign-in log entry; "What if" in \
Entra shows what would apply to a user, app and location.

## Outlook and Exchange Online
- Does Outlook on the web work? If yes, the mailbox and account are fine: look at the desktop \
client (profile, cached credentials, add-ins, version).
- Credential Manager: stale "MicrosoftOffice16_Data" or "ADAL" entries cause repeated password \
prompts after a password or MFA change.
- Message trace (Exchange admin centre > Mail flow > Message trace) for mail that did not \
arrive: status, which rule or filter acted, the recipient's response.
- Inbox rules and forwarding (Get-InboxRule -Mailbox <user>): rules that forward, delete or move \
mail are a compromise sign when the user did not create them.
- Large OST, or "Working offline": check the connection status dialog (Ctrl + right-click the \
Outlook tray icon) and free disk space.

## On-premises Active Directory
- Account state: Get-ADUser <user> -Properties LockedOut,Enabled,PasswordExpired,\
PasswordLastSet,LastLogonDate,BadLogonCount.
- Lockout source: event 4740 on the PDC emulator names the caller computer; then look on that \
computer for mapped drives, services, scheduled tasks or phones with old credentials.
- Replication health: repadmin /replsummary and dcdiag /q on a domain controller.
- Group Policy: gpresult /r (or /h report.html) on the client; gpupdate /force after a fix.
- Time: a clock more than five minutes off breaks Kerberos; w32tm /query /status.

## Networking
- ipconfig /all: an address in 169.254.x.x means no DHCP answer; check the link, the VLAN and \
the DHCP scope's free addresses.
- Name resolution: nslookup <name> against the configured DNS server and against a known good \
one; compare.
- Reachability: Test-NetConnection <host> -Port <port> separates DNS, routing and firewall \
problems; tracert shows where the path stops.
- Wi-Fi: the SSID and band, signal strength (netsh wlan show interfaces), and whether wired \
clients at the same site have the problem too.
- VPN: the client's log, the gateway's authentication log, split tunnelling routes \
(route print), and MTU problems when large transfers stall.

## Endpoints (Windows and macOS)
- What changed: recent updates (Get-HotFix, Settings > Windows Update > Update history), new \
software, driver updates, policy changes from Intune.
- Event Viewer: System and Application logs around the time of the problem; Reliability \
Monitor gives a quick timeline of crashes and installs.
- Disk space and health: free space on the system drive; chkdsk and SMART status before \
blaming software.
- Intune: device compliance state, last check-in, assigned configuration profiles and apps that \
failed.
- Performance: Task Manager or Resource Monitor for the process using CPU, memory or disk; a \
clean boot isolates third-party services.

## Printing
- One user, one printer, or everyone? Print a test page from the server or the printer's web \
page to split driver, queue and device problems.
- Queue: stuck jobs (Get-PrintJob), the spooler service state, restart the spooler only after \
saving what the queue shows.
- Driver: version and type (Type 3 or Type 4, universal driver), recent Windows updates that \
touched printing.
- Network printers: the IP address still answers (ping, web page), no duplicate address, the \
port on the print server points at it.

## Servers and backup
- Services: the service state and its recovery actions; the Application and System logs for \
the reason it stopped.
- Storage: free space on every volume, including the one holding logs and shadow copies.
- Backups: the last successful job, the error of the failed one, whether the repository or \
target has space, whether credentials changed.
- Before a restore: confirm what to restore, to where, and that overwriting is intended; \
restore to an alternate location when in doubt.

## Security incidents
- Contain first: revoke sessions (Revoke-MgUserSignInSession), block sign-in, reset the \
password only after identity is verified, isolate an infected device from the network.
- Preserve evidence: do not wipe or reimage; export sign-in and audit logs, keep the mail that \
started it.
- Look for persistence: inbox rules, forwarding, new MFA methods, OAuth app consents, new \
admin role assignments, scheduled tasks.

## Teams, SharePoint and OneDrive
- Teams: does the web client (teams.microsoft.com) work? If yes, clear the desktop client's \
cache (quit Teams, then remove its cache folder for the new or classic client) before anything \
else. Presence or calling problems: check the user's Teams policies and the phone system \
licence.
- OneDrive sync: the sync client's status and error, path length and invalid characters, files \
open elsewhere, storage quota, and whether Known Folder Move is enforced by policy.
- SharePoint access: the site's sharing settings and the user's group memberships; "access \
denied" after a move usually means broken inheritance on a library or folder.

## Cloud (Azure, AWS, SaaS)
- Check the provider's status page and the tenant's service health first.
- Azure: the resource's activity log shows who changed what and when; network security groups \
and route tables explain most "can't reach the VM" cases; check the VM's boot diagnostics \
before restarting it.
- SaaS sign-in through single sign-on: the enterprise application's sign-in logs in Entra, the \
certificate's expiry date, and whether the user is assigned to the application.

## Hardware
- Reseat and swap before replacing: cables, docks, power supplies, a known good monitor or \
keyboard. Note the model and serial number and the warranty status for the vendor.
- Laptops that won't charge or boot: a different charger of the right wattage, a hard reset \
(battery out, or the vendor's key combination), the vendor's diagnostics (F12 or similar).
- Docking stations: firmware and driver versions match the vendor's current release; test \
without the dock to separate the two.

## VoIP
- One phone or all? Registration status on the PBX, the phone's network (VLAN, PoE, DHCP \
options), and SIP ALG on the firewall, which often breaks registration and one-way audio.
- One-way audio: NAT and firewall rules for RTP ports; QoS only matters once the path works.
"""
