"""OPC UA test peer (python asyncua): a small 'plant' whose values change on a known pattern.

Usage: opcua_server.py PORT [--secure DIR] [--user USER:PASSWORD]

Variables under Objects/Lathe, namespace 'urn:test:lathe', node ids ns=2;s=Lathe.<Name>:
State (Int32), PartsDone (UInt32), Temperature (Double), Speed (Double, writable),
Remote (Boolean, writable). Every 100 ms PartsDone += 1 and Temperature = 20 + PartsDone / 10;
each published value is printed as 'PUB <name> <value>', each value written by a client as
'WRITE <name> <value>'. Prints 'READY <ns>' when serving. With --secure, the server offers
only Basic256Sha256 SignAndEncrypt with a self-signed certificate created in DIR; with --user,
only that user name and password is accepted (no anonymous access).
"""

import asyncio
import sys
from pathlib import Path

from asyncua import Server, ua
from asyncua.server.user_managers import UserManager


class OneUser(UserManager):
    def __init__(self, user, password):
        self.user, self.password = user, password

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username == self.user and password == self.password:
            from asyncua.crypto.permission_rules import User, UserRole
            return User(role=UserRole.User)
        return None


async def main():
    port = int(sys.argv[1])
    args = sys.argv[2:]
    secure = args[args.index("--secure") + 1] if "--secure" in args else None
    user = args[args.index("--user") + 1] if "--user" in args else None
    server = Server(user_manager=OneUser(*user.split(":", 1)) if user else None)
    await server.init()
    await server.set_application_uri("urn:test:lathe-server")
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/")
    if secure:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID
        d = Path(secure)
        d.mkdir(parents=True, exist_ok=True)
        cert, key = d / "server-cert.der", d / "server-key.pem"
        await setup_self_signed_certificate(
            key, cert, "urn:test:lathe-server", "127.0.0.1",
            [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "Test Lathe"},
        )
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    else:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    if user:
        server.set_security_IDs(["Username"])
    ns = await server.register_namespace("urn:test:lathe")
    lathe = await server.nodes.objects.add_folder(ua.NodeId("Lathe", ns), "Lathe")

    async def var(name, value, vtype, writable=False):
        v = await lathe.add_variable(ua.NodeId(f"Lathe.{name}", ns), name, ua.Variant(value, vtype))
        if writable:
            await v.set_writable()
        return v

    state = await var("State", 1, ua.VariantType.Int32)
    parts = await var("PartsDone", 0, ua.VariantType.UInt32)
    temp = await var("Temperature", 20.0, ua.VariantType.Double)
    speed = await var("Speed", 1.0, ua.VariantType.Double, True)
    remote = await var("Remote", True, ua.VariantType.Boolean, True)
    async with server:
        print(f"READY {ns}", flush=True)
        n = 0
        last_speed = 1.0
        while True:
            await asyncio.sleep(0.1)
            n += 1
            await parts.write_value(ua.Variant(n, ua.VariantType.UInt32))
            t = 20.0 + n / 10.0
            await temp.write_value(ua.Variant(t, ua.VariantType.Double))
            print(f"PUB PartsDone {n}", flush=True)
            print(f"PUB Temperature {t}", flush=True)
            s = await speed.read_value()
            if s != last_speed:
                last_speed = s
                print(f"WRITE Speed {s}", flush=True)


asyncio.run(main())
