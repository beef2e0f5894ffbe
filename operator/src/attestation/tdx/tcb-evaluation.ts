// TCB evaluation following Intel's QVL: QE identity policy and QE TCB level, FMSPC/PCE-ID match, TDX module
// identity and module TCB level, platform TCB level selection (SGX components + PCESVN + TDX components,
// skipping TEE_TCB_SVN[0..1] when a module identity applies) and status convergence.
import { TdxError } from './errors.ts';
import { bytesEqual, fromHex, toHex } from './bytes.ts';
import type { EnclaveReport, TdReport } from './quote.ts';
import type { PckExtension } from './pck-extension.ts';
import type { IsvsvnLevel, TcbStatus, TdQeIdentity, TdxTcbInfo } from './collateral-schemas.ts';

export interface TcbEvaluation {
  status: TcbStatus;
  advisoryIds: string[];
  platformStatus: TcbStatus;
  platformTcbDate: string;
  /** Absent when TEE_TCB_SVN[1] == 0 (no module identity applies). */
  moduleStatus?: TcbStatus;
  qeStatus: TcbStatus;
  /**
   * TD 1.5 only (Intel TDRelaunchCheck): the platform and QE are current, the running TDX module is OutOfDate,
   * but TEE_TCB_SVN2 shows an up-to-date module is already loaded, so relaunching the TD would fix the status.
   * Intel reports this as a separate status (TDRelaunchAdvised[ConfigurationNeeded]); we keep the status and flag it.
   */
  tdRelaunchAdvised: boolean;
}

function masked(a: Uint8Array, mask: Uint8Array): Uint8Array {
  return a.map((b, i) => b & (mask[i] ?? 0));
}

function firstIsvsvnLevel(levels: IsvsvnLevel[], isvsvn: number): IsvsvnLevel | undefined {
  return [...levels].sort((x, y) => y.tcb.isvsvn - x.tcb.isvsvn).find((l) => l.tcb.isvsvn <= isvsvn);
}

/** QE Identity policy (Intel QVL §4.1.2.4.14-15): MRSIGNER, ISVPRODID, masked MISCSELECT/ATTRIBUTES, then the QE TCB level. */
export function evaluateQeIdentity(qe: EnclaveReport, id: TdQeIdentity): IsvsvnLevel {
  const code = 'QeIdentityMismatch';
  if (!bytesEqual(qe.mrSigner, fromHex(id.mrsigner, 'mrsigner', code))) throw new TdxError(code, 'QE report MRSIGNER does not match the QE Identity mrsigner');
  if (qe.isvProdId !== id.isvprodid) throw new TdxError(code, `QE report ISVPRODID ${qe.isvProdId} does not match the QE Identity isvprodid ${id.isvprodid}`);
  const miscMask = Buffer.from(id.miscselectMask, 'hex').readUInt32BE(0);
  const miscWant = Buffer.from(id.miscselect, 'hex').readUInt32BE(0);
  // The identity's hex is big-endian text of a u32; the report's MISCSELECT is a little-endian u32 (already decoded).
  if (((qe.miscSelect & miscMask) >>> 0) !== ((miscWant & miscMask) >>> 0)) throw new TdxError(code, 'QE report MISCSELECT does not match the QE Identity under its mask');
  const attrMask = fromHex(id.attributesMask, 'attributesMask', code);
  if (!bytesEqual(masked(qe.attributes, attrMask), masked(fromHex(id.attributes, 'attributes', code), attrMask))) {
    throw new TdxError(code, 'QE report ATTRIBUTES do not match the QE Identity under its mask');
  }
  if (((qe.attributes[0] ?? 0) & 0x02) !== 0) throw new TdxError(code, 'the Quoting Enclave runs in debug mode');
  const level = firstIsvsvnLevel(id.tcbLevels, qe.isvSvn);
  if (!level) throw new TdxError('QeTcbNotSupported', `no QE Identity TCB level has isvsvn <= the QE report ISVSVN ${qe.isvSvn}`);
  return level;
}

/** TDX module identity (TEE_TCB_SVN[1] = module version, [0] = module ISVSVN); returns its TCB level when one applies. */
function evaluateModule(body: TdReport, info: TdxTcbInfo): IsvsvnLevel | undefined {
  const version = body.teeTcbSvn[1] ?? 0;
  const isvsvn = body.teeTcbSvn[0] ?? 0;
  let identity: { mrsigner: string; attributes: string; attributesMask: string; tcbLevels?: IsvsvnLevel[] } = info.tdxModule;
  if (version > 0) {
    const id = `TDX_${version.toString(16).padStart(2, '0').toUpperCase()}`;
    const found = info.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id);
    if (!found) throw new TdxError('TdxModuleMismatch', `TCB Info has no TDX module identity ${id} for TEE_TCB_SVN[1] = ${version}`);
    identity = found;
  }
  const code = 'TdxModuleMismatch';
  if (!bytesEqual(body.mrSignerSeam, fromHex(identity.mrsigner, 'mrsigner', code))) throw new TdxError(code, 'quote MRSIGNERSEAM does not match the TDX module identity mrsigner');
  const mask = fromHex(identity.attributesMask, 'attributesMask', code);
  if (!bytesEqual(masked(body.seamAttributes, mask), masked(fromHex(identity.attributes, 'attributes', code), mask))) {
    throw new TdxError(code, 'quote SEAMATTRIBUTES do not match the TDX module identity attributes under its mask');
  }
  if (version === 0 || !identity.tcbLevels) return undefined;
  const level = firstIsvsvnLevel(identity.tcbLevels, isvsvn);
  if (!level) throw new TdxError('TcbLevelNotFound', `no TDX module TCB level has isvsvn <= TEE_TCB_SVN[0] = ${isvsvn}`);
  return level;
}

type PlatformLevel = TdxTcbInfo['tcbLevels'][number];

function sgxMatches(level: PlatformLevel, pck: PckExtension): boolean {
  return level.tcb.sgxtcbcomponents.every((c, i) => c.svn <= (pck.tcbComponents[i] ?? 0)) && level.tcb.pcesvn <= pck.pceSvn;
}

function platformLevel(body: TdReport, pck: PckExtension, info: TdxTcbInfo): PlatformLevel | undefined {
  const skipModuleSvns = (body.teeTcbSvn[1] ?? 0) > 0;
  return info.tcbLevels.find((level) => {
    const tdxOk = level.tcb.tdxtcbcomponents.every((c, i) => (skipModuleSvns && i < 2) || c.svn <= (body.teeTcbSvn[i] ?? 0));
    return sgxMatches(level, pck) && tdxOk;
  });
}

const CURRENT_SGX: readonly TcbStatus[] = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded'];

/** Intel's TD 1.5 relaunch rule, comparing TEE_TCB_SVN2 with the latest platform level and module identity level. */
function relaunchAdvised(body: TdReport, pck: PckExtension, info: TdxTcbInfo, tdxStatus: TcbStatus, moduleStatus: TcbStatus | undefined, qeStatus: TcbStatus): boolean {
  const svn2 = body.teeTcbSvn2;
  if (!svn2 || qeStatus === 'OutOfDate' || qeStatus === 'Revoked' || moduleStatus !== 'OutOfDate') return false;
  if (tdxStatus !== 'OutOfDate' && tdxStatus !== 'OutOfDateConfigurationNeeded') return false;
  const sgxLevel = info.tcbLevels.find((l) => sgxMatches(l, pck));
  if (!sgxLevel || !CURRENT_SGX.includes(sgxLevel.tcbStatus)) return false;
  const latest = info.tcbLevels[0];
  if (!latest) return false;
  const svn = (i: number) => svn2[i] ?? 0;
  if (svn(2) < (latest.tcb.tdxtcbcomponents[2]?.svn ?? 0)) return false;
  if (svn(1) === 0) return svn(0) >= (latest.tcb.tdxtcbcomponents[0]?.svn ?? 0);
  const id = `TDX_${svn(1).toString(16).padStart(2, '0').toUpperCase()}`;
  const identity = info.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id);
  const newest = identity ? Math.max(...identity.tcbLevels.map((l) => l.tcb.isvsvn)) : Number.POSITIVE_INFINITY;
  return svn(0) >= newest;
}

/** Intel's convergence: an OutOfDate module or QE degrades the platform status; Revoked anywhere is Revoked. */
function converge(platform: TcbStatus, other: TcbStatus | undefined): TcbStatus {
  if (other === 'Revoked') return 'Revoked';
  if (other !== 'OutOfDate') return platform;
  if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate';
  if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') return 'OutOfDateConfigurationNeeded';
  return platform;
}

export function evaluateTcb(body: TdReport, pck: PckExtension, info: TdxTcbInfo, qeLevel: IsvsvnLevel): TcbEvaluation {
  if (toHex(pck.fmspc) !== info.fmspc.toLowerCase()) throw new TdxError('FmspcMismatch', `PCK FMSPC ${toHex(pck.fmspc)} does not match the TCB Info fmspc ${info.fmspc}`);
  if (toHex(pck.pceId) !== info.pceId.toLowerCase()) throw new TdxError('PceIdMismatch', `PCK PCE-ID ${toHex(pck.pceId)} does not match the TCB Info pceId ${info.pceId}`);
  const moduleLevel = evaluateModule(body, info);
  const level = platformLevel(body, pck, info);
  if (!level) {
    throw new TdxError(
      'TcbLevelNotFound',
      `no matching TCB level: no TCB Info level is at or below the platform TCB (PCK SVNs, PCESVN ${pck.pceSvn}, TEE_TCB_SVN ${toHex(body.teeTcbSvn)})`,
    );
  }
  const tdxStatus = converge(level.tcbStatus, moduleLevel?.tcbStatus);
  const status = converge(tdxStatus, qeLevel.tcbStatus);
  const advisoryIds = [...new Set([...(level.advisoryIDs ?? []), ...(moduleLevel?.advisoryIDs ?? []), ...(qeLevel.advisoryIDs ?? [])])];
  const result: TcbEvaluation = {
    status,
    advisoryIds,
    platformStatus: level.tcbStatus,
    platformTcbDate: level.tcbDate,
    qeStatus: qeLevel.tcbStatus,
    tdRelaunchAdvised: relaunchAdvised(body, pck, info, tdxStatus, moduleLevel?.tcbStatus, qeLevel.tcbStatus),
  };
  if (moduleLevel) result.moduleStatus = moduleLevel.tcbStatus;
  return result;
}
