// ECS API simulator entry for tests and `make dev` (no CLI dependency).
export { startEcsSimulator, type EcsSimulator, type RequestRecord, type SimulatorOptions } from './server.ts';
export { Faults, type FaultRule } from './faults.ts';
export { DEFAULT_CATALOG, type Catalog, type SimInstance, type Timings } from './state.ts';
