// Connecting to one's machines: the password reveal (recorded by the API)
// and the copied SSH command, which is recorded here so that it shows in 连接历史.
import { recordCommandCopied, revealMyMachinePassword } from '@/api/myMachines'

export function useConnect() {
  const revealPassword = async (machineId: string) => (await revealMyMachinePassword(machineId)).password

  /** Call after the command is on the clipboard. */
  function commandCopied(machineId: string) {
    void recordCommandCopied(machineId).catch(() => undefined)
  }

  return { revealPassword, commandCopied }
}
