export { freePorts } from '../../local/stack/ports';
