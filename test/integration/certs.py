"""Test certificates made with python3-cryptography: a CA and leaf certificates."""
import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, AuthorityInformationAccessOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def new_key(kind="ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


class CA:
    def __init__(self, cn="Test Root CA"):
        self.key = new_key()
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                                    critical=False)
                     .sign(self.key, hashes.SHA256()))

    def issue(self, names, days=90, start_days_ago=1, key=None, ocsp_url=None, issuer_url=None,
              serial=None):
        """A leaf for DNS names/IP addresses; returns (cert, key)."""
        key = key or new_key()
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        b = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(self.cert.subject)
             .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=start_days_ago))
             .not_valid_after(now - datetime.timedelta(days=start_days_ago) + datetime.timedelta(days=days))
             .add_extension(x509.SubjectAlternativeName(sans), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                            critical=False))
        aia = []
        if ocsp_url:
            aia.append(x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                              x509.UniformResourceIdentifier(ocsp_url)))
        if issuer_url:
            aia.append(x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                              x509.UniformResourceIdentifier(issuer_url)))
        if aia:
            b = b.add_extension(x509.AuthorityInformationAccess(aia), critical=False)
        return b.sign(self.key, hashes.SHA256()), key


def pem_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def write_pair(dirpath, stem, cert, key, chain=()):
    """Write STEM.pem (cert + chain) and STEM.key; returns both paths."""
    import os
    cp, kp = os.path.join(dirpath, stem + ".pem"), os.path.join(dirpath, stem + ".key")
    with open(cp, "w") as f:
        f.write(pem_cert(cert) + "".join(pem_cert(c) for c in chain))
    with open(kp, "w") as f:
        f.write(pem_key(key))
    os.chmod(kp, 0o600)
    return cp, kp


def sha256_hex(cert):
    return cert.fingerprint(hashes.SHA256()).hex()
