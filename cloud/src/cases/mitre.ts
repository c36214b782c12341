import { ValidationError } from '@palisade/shared';

/**
 * The MITRE ATT&CK for ICS techniques Palisade tags cases with: those an attestation gateway can observe or that
 * describe what follows from a compromised field device. Tags outside this list are refused rather than stored,
 * so a typo never becomes a silent new "technique".
 */
export const ICS_TECHNIQUES: Readonly<Record<string, string>> = {
  T0800: 'Activate Firmware Update Mode',
  T0806: 'Brute Force I/O',
  T0813: 'Denial of Control',
  T0814: 'Denial of Service',
  T0815: 'Denial of View',
  T0822: 'External Remote Services',
  T0826: 'Loss of Availability',
  T0830: 'Adversary-in-the-Middle',
  T0831: 'Manipulation of Control',
  T0832: 'Manipulation of View',
  T0836: 'Modify Parameter',
  T0839: 'Module Firmware',
  T0842: 'Network Sniffing',
  T0843: 'Program Download',
  T0846: 'Remote System Discovery',
  T0848: 'Rogue Master',
  T0849: 'Masquerading',
  T0855: 'Unauthorized Command Message',
  T0856: 'Spoof Reporting Message',
  T0857: 'System Firmware',
  T0859: 'Valid Accounts',
  T0862: 'Supply Chain Compromise',
  T0866: 'Exploitation of Remote Services',
  T0872: 'Indicator Removal on Host',
  T0883: 'Internet Accessible Device',
  T0886: 'Remote Services',
  T0891: 'Hardcoded Credentials',
};

/** ATT&CK for ICS technique ids are T08xx. */
const ICS_TECHNIQUE_ID = /^T08\d\d$/;

/** Validates and de-duplicates technique ids, returning them sorted. */
export function normaliseTechniques(ids: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of ids) {
    const id = raw.trim().toUpperCase();
    if (!ICS_TECHNIQUE_ID.test(id)) {
      throw new ValidationError(
        'validation.mitre_technique',
        `not an ATT&CK for ICS technique id: ${raw.slice(0, 20)}`,
        {
          details: { value: raw.slice(0, 20) },
        },
      );
    }
    if (ICS_TECHNIQUES[id] === undefined) {
      throw new ValidationError('validation.mitre_technique_unknown', `technique ${id} is not in Palisade's list`, {
        details: { value: id, known: Object.keys(ICS_TECHNIQUES) },
      });
    }
    out.add(id);
  }
  return [...out].sort();
}
