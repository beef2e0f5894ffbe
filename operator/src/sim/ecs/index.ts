// ECS API simulator entry for tests and `make dev` (no CLI dependency).
export { startEcsSimulator, type EcsSimulator, type RequestRecord, type SimulatorOptions } from './server.ts';
export { Faults, MANGLE_MODES, type FaultRule, type MangleMode } from './faults.ts';
export { DEFAULT_CATALOG, type Catalog, type SimInstance, type Timings } from './state.ts';
