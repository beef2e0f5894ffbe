"""Same-run reference for bench:tdx: dcap-qvl (PyPI, pinned by hack/dcap-qvl-venv.sh) verifying one TDX quote
with one collateral set through its Python API, the full chain each call (dcap-qvl keeps nothing between calls).
Input on stdin: JSON with hex bytes; output: one JSON line {"quotesPerSecond", "quotesPerCpuSecond", "status", "version"}."""
import json
import sys
import time
from importlib.metadata import version

import dcap_qvl

args = json.load(sys.stdin)
c = args["collateral"]
collateral = dcap_qvl.QuoteCollateralV3(
    pck_crl_issuer_chain=c["pckCrlIssuerChain"],
    root_ca_crl=bytes.fromhex(c["rootCaCrl"]),
    pck_crl=bytes.fromhex(c["pckCrl"]),
    tcb_info_issuer_chain=c["tcbInfoIssuerChain"],
    tcb_info=c["tcbInfo"],
    tcb_info_signature=bytes.fromhex(c["tcbInfoSignature"]),
    qe_identity_issuer_chain=c["qeIdentityIssuerChain"],
    qe_identity=c["qeIdentity"],
    qe_identity_signature=bytes.fromhex(c["qeIdentitySignature"]),
)
quote = bytes.fromhex(args["quote"])
now = int(args["nowSecs"])
status = dcap_qvl.verify(quote, collateral, now).status  # raises if the quote does not verify
for _ in range(20):  # warm-up, as the Node side gets
    dcap_qvl.verify(quote, collateral, now)
n = 0
cpu0 = time.process_time()
start = time.perf_counter()
end = start + args["ms"] / 1000
while True:
    dcap_qvl.verify(quote, collateral, now)
    n += 1
    t = time.perf_counter()
    if t >= end:
        break
cpu = time.process_time() - cpu0
print(json.dumps({"quotesPerSecond": n / (t - start), "quotesPerCpuSecond": n / cpu, "status": status, "version": version("dcap-qvl")}))
