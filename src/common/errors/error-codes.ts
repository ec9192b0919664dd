// The codes live with the API's other shared types (libs/contracts), which the client package and the
// dashboard read too; this module keeps the service's imports short.
export { ERROR_STATUS } from '../../../libs/contracts/src/error-codes';
export type { ErrorCode } from '../../../libs/contracts/src/error-codes';
