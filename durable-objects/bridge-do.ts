// BridgeDO: placeholder, replaced by its implementation.
import { CountedObject } from './counted-object.js';

export class BridgeDO extends CountedObject {}
