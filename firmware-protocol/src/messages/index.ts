/** Topics and CBOR wire messages of the device protocol. @see PROTOCOL.md §3, §4 */
export * from './messages.js';
export * from './topics.js';
