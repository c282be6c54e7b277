// Parity of every primitive, forward and gradient, on tfjs's cpu backend (see parity-suite.ts).
import { paritySuite } from './parity-suite.js';

paritySuite('cpu');
