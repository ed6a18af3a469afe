"""Secret shapes every exit must keep out: (id, text a technician might type, secret).

Written as data so any exit (model request, Slack call, database dump, log, PSA
payload) can be checked against the same table. The first block was written
before reading bot/redact.py's patterns (issue 11 asks for half of them blind);
the second block was added afterwards.
"""

from __future__ import annotations

from typing import NamedTuple


class Shape(NamedTuple):
    id: str
    text: str
    secret: str


# --- written before looking at the patterns ---------------------------------
BLIND: tuple[Shape, ...] = (
    Shape("password_is_mixed", "the password is Tr0ub4dor&3 for the admin", "Tr0ub4dor&3"),
    Shape("password_is_letters", "her password is bluebirdsunset now", "bluebirdsunset"),
    Shape("password_colon", "password: Kx9!pLm2qZ", "Kx9!pLm2qZ"),
    Shape("pw_is", "pw is Summer2024! on that box", "Summer2024!"),
    Shape("pw_colon", "local admin pw: Zebra#4471", "Zebra#4471"),
    Shape("passwd_eq", "passwd=Hunter2hunter", "Hunter2hunter"),
    Shape("changed_it_to", "I reset it and changed it to Winter#2025 for her", "Winter#2025"),
    Shape("set_it_to", "we set the password to Qwerty!789 yesterday", "Qwerty!789"),
    Shape("net_use", r"net use Z: \\fs01\share /user:CORP\jsmith Pa55word!x", "Pa55word!x"),
    Shape("net_user", "net user jsmith N3wPass!word /domain", "N3wPass!word"),
    Shape("ldap_bind", "ldapsearch -x -D cn=svc,dc=corp -w LdapB1nd!pw -b dc=corp", "LdapB1nd!pw"),
    Shape(
        "bitlocker_key",
        "recovery key 123456-654321-111222-333444-555666-777888-999000-121212",
        "123456-654321-111222-333444-555666-777888-999000-121212",
    ),
    Shape("wifi_psk", "the wifi psk is GuestNet-8842-blue", "GuestNet-8842-blue"),
    Shape("wifi_key", "Wi-Fi password: CoffeeShop2024", "CoffeeShop2024"),
    Shape("tap_code", "Temporary Access Pass: q8#Lm2Xz", "q8#Lm2Xz"),
    Shape("aws_key", "key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
    Shape(
        "aws_secret",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    Shape("slack_bot_token", "token xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"),
    Shape("github_pat", "use ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
    Shape("anthropic_key", "ANTHROPIC key sk-ant-api03-AbCdEf123456_GhIjKl789012-MnOp", "sk-ant-api03-AbCdEf123456_GhIjKl789012-MnOp"),
    Shape(
        "private_key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA7x",
    ),
    Shape("url_credentials", "connect to ftp://backup:S3cr3tFtp@10.0.0.5/dump", "S3cr3tFtp"),
    Shape(
        "connection_string",
        "Server=sql01;Database=crm;User Id=sa;Password=SqlSa#2023;",
        "SqlSa#2023",
    ),
    Shape("bearer", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcDEF123", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcDEF123"),
    Shape("pin_is", "the door PIN is 482913", "482913"),
    Shape("mfa_backup", "MFA backup code: 7731-2290", "7731-2290"),
)

# --- added after reading the patterns ----------------------------------------
AFTER: tuple[Shape, ...] = (
    Shape("password_was_letters", "the old password was marmaladeskies", "marmaladeskies"),
    Shape("pw_is_letters", "new pw is Greenhouseorchid", "Greenhouseorchid"),
    Shape("quoted_phrase", "password is 'correct horse battery staple'", "correct horse battery staple"),
    Shape("reset_to_letters", "I changed her password and changed it to Sunflowerfield", "Sunflowerfield"),
    Shape("net_use_before_user", r"net use \\fs01\scans Scan2024!x /user:scanner", "Scan2024!x"),
    Shape("net_user_add", "net user helpdesk Welcome2024 /add", "Welcome2024"),
    Shape("ldap_bind_quoted", "ldapmodify -H ldaps://dc1 -D cn=admin -w 'P@ss word9' -f x.ldif", "P@ss word9"),
    Shape("ldap_bind_password_key", "bindPassword: Bind3rPw!", "Bind3rPw!"),
    Shape("ldap_bind_phrase", "the LDAP bind password is Directory42", "Directory42"),
    Shape(
        "bitlocker_recovery_password",
        "RecoveryPassword: 482190-118470-553300-020130-661342-109263-707652-123321",
        "482190-118470-553300-020130-661342-109263-707652-123321",
    ),
    Shape("wifi_keymaterial", "<keyMaterial>OfficeAir#77</keyMaterial>", "OfficeAir#77"),
    Shape("wpa2_key", "WPA2 key: purplemonkeydishwasher", "purplemonkeydishwasher"),
    Shape("network_key", "network security key is Lobby2Guest", "Lobby2Guest"),
    Shape("tap_is", "the TAP is Kz7pQ2mX, valid for an hour", "Kz7pQ2mX"),
    Shape("mysql_p", "mysql -u root -pR00tDbPass crm", "R00tDbPass"),
    Shape("sshpass", "sshpass -p 'Swt!ch42' ssh admin@10.0.0.2", "Swt!ch42"),
    Shape("curl_user", "curl -u admin:Rout3rAdm! https://10.0.0.1/api", "Rout3rAdm!"),
    Shape("shared_secret_phrase", "the RADIUS shared secret is Rad1usKey99", "Rad1usKey99"),
    Shape("snmp_community", "SNMP community string is n3tM0nRO", "n3tM0nRO"),
    Shape("recovery_code", "recovery code: 8F3K-92LD", "8F3K-92LD"),
    Shape("app_password", "app password: abcdwxyzqrstmnop", "abcdwxyzqrstmnop"),
    Shape("secure_string", 'ConvertTo-SecureString "Lab$Admin9" -AsPlainText -Force', "Lab$Admin9"),
)

ALL: tuple[Shape, ...] = BLIND + AFTER
