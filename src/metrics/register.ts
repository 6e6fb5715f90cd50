/**
 * Registers the optional metric groups and fitters (import once for its side effects):
 * pl_package='powerlaw' (with TPL/E_TPL), mp_fit, vectors, randomize and detX.
 */
import './plpackage.js';
import './mpfit.js';
import './randomize.js';
import './detx.js';
import './vectors.js';
