// DMA ownership of an IOMMU group as the driver core keeps it (Linux: really_probe ->
// bus dma_configure -> iommu_device_use_default_domain, __device_release_driver ->
// dma_cleanup -> iommu_device_unuse_default_domain): a bound DMA API driver counts in
// the group's owner_cnt, so a user (vfio) cannot claim the group (-EPERM); a claimed
// group refuses to bind a DMA API driver (-EBUSY, the device stays unbound and the group
// in its blocking domain); a driver with driver_managed_dma binds to a claimed group and
// does not keep a user from claiming it; a failed probe gives its count back.

import { describe, expect, it } from 'vitest';
import { device_attach, device_driver_attach, device_release_driver, type Device } from '../../src/kernel/drivers/base/core.js';
import { EBUSY, EIO, EPERM } from '../../src/kernel/lib/errno.js';
import {
  IOMMU_DOMAIN_BLOCKED,
  iommu_get_dma_domain,
  iommu_get_domain_for_dev,
  iommu_group_claim_dma_owner,
  iommu_group_dma_owner_claimed,
  iommu_group_get,
  iommu_group_release_dma_owner,
  type IommuGroup,
} from '../../src/kernel/drivers/iommu/iommu.js';
import { ITD_OP_WRITE } from '../../src/kernel/drivers/misc/iommu-testdev.js';
import { pci_devices, pci_register_driver, pci_unregister_driver, type PciDev, type PciDriver } from '../../src/kernel/drivers/pci/pci.js';
import { oops_count } from '../../src/kernel/kernel/panic.js';
import { PAGE, Testdev } from './kernel-smmu-harness.js';
import { runMarked } from './kernel-iommu-harness.js';

const TESTDEV = '0000:00:02.0';

/** A vfio-pci-like driver: it manages the device's DMA itself. Its probe only counts. */
function managedDriver(probed: Device[]): PciDriver {
  return {
    name: 'test-managed',
    bus: null,
    driver_managed_dma: true,
    id_table: [],
    *pci_probe(pdev) {
      probed.push(pdev);
      return 0;
    },
  };
}

/** A DMA API driver whose probe fails. */
const failingDriver: PciDriver = {
  name: 'test-failing',
  bus: null,
  id_table: [],
  *pci_probe() {
    return -EIO;
  },
};

const blocked = (dev: Device): boolean => iommu_get_domain_for_dev(dev)?.type === IOMMU_DOMAIN_BLOCKED;
const onDefault = (dev: Device): boolean => iommu_get_domain_for_dev(dev) === iommu_get_dma_domain(dev);

describe('the driver core keeps DMA ownership: a DMA API driver and a group owner exclude each other', () => {
  const got: Record<string, unknown> = {};
  const run = runMarked(function* (u) {
    const pdev = pci_devices().find((d) => d.name === TESTDEV) as PciDev;
    const group = iommu_group_get(pdev) as IommuGroup;
    const testdrv = pdev.driver!;
    got.boundName = testdrv.name;
    got.cntBound = group.ownerCnt;
    got.claimedBound = iommu_group_dma_owner_claimed(group);
    got.claimWhileBound = iommu_group_claim_dma_owner(group, 'user');
    got.ownerAfterRefusal = group.owner;

    // Unbound: the count goes back, a user claims the group
    yield* device_release_driver(pdev);
    got.cntUnbound = group.ownerCnt;
    got.claimedUnbound = iommu_group_dma_owner_claimed(group);
    got.claim = iommu_group_claim_dma_owner(group, 'user');
    got.blockedAfterClaim = blocked(pdev);

    // A DMA API driver may not bind to the owned group, by any path
    got.attachOwned = yield* device_attach(pdev);
    got.driverAttachOwned = yield* device_driver_attach(testdrv, pdev);
    got.unboundOwned = pdev.driver === null;
    got.cntOwned = group.ownerCnt;
    got.stillBlocked = blocked(pdev);

    // A driver that manages DMA itself binds to the owned group
    const probed: Device[] = [];
    const managed = managedDriver(probed);
    got.regManaged = yield* pci_register_driver(managed);
    pdev.driver_override = managed.name;
    got.attachManaged = yield* device_attach(pdev);
    got.managedBound = pdev.driver === managed && probed.length === 1;
    got.cntManaged = group.ownerCnt;
    got.blockedManaged = blocked(pdev);
    // ... and does not hold the group: the owner lets go and another claims it
    iommu_group_release_dma_owner(group);
    got.defaultAfterRelease = onDefault(pdev);
    got.cntReleased = group.ownerCnt;
    got.claimWithManaged = iommu_group_claim_dma_owner(group, 'user2');
    iommu_group_release_dma_owner(group);
    yield* device_release_driver(pdev);
    got.cntManagedGone = group.ownerCnt;

    // A DMA API driver whose probe fails gives its count back
    got.regFailing = yield* pci_register_driver(failingDriver);
    pdev.driver_override = failingDriver.name;
    got.attachFailing = yield* device_attach(pdev);
    got.driverAttachFailing = yield* device_driver_attach(failingDriver, pdev);
    got.cntFailed = group.ownerCnt;
    yield* pci_unregister_driver(failingDriver);
    yield* pci_unregister_driver(managed);

    // Back to the DMA API driver: it counts again and its DMA goes through the default domain
    pdev.driver_override = null;
    got.reattach = yield* device_attach(pdev);
    got.cntRebound = group.ownerCnt;
    got.claimRebound = iommu_group_claim_dma_owner(group, 'user');
    const td = yield* Testdev.open(u);
    if (typeof td === 'number') return 10;
    const buf = u.alloc(PAGE);
    got.dma = (yield* td.dma(buf, PAGE, ITD_OP_WRITE)).result;
    got.defaultRebound = onDefault(pdev);
    return 0;
  });

  it('a bound DMA API driver is one user of the group: claiming it fails with -EPERM and changes nothing', () => {
    expect(run.code).toBe(0);
    expect(got.boundName).toBe('iommu-testdev');
    expect(got.cntBound).toBe(1);
    expect(got.claimedBound).toBe(true);
    expect(got.claimWhileBound).toBe(-EPERM);
    expect(got.ownerAfterRefusal).toBe(null);
  });

  it('unbinding drops the count; a user then claims the group, which waits in the blocked domain', () => {
    expect(got.cntUnbound).toBe(0);
    expect(got.claimedUnbound).toBe(false);
    expect(got.claim).toBe(0);
    expect(got.blockedAfterClaim).toBe(true);
  });

  it('a DMA API driver cannot bind to the owned group: device_attach and device_driver_attach return -EBUSY, the device stays unbound', () => {
    expect(got.attachOwned).toBe(-EBUSY);
    expect(got.driverAttachOwned).toBe(-EBUSY);
    expect(got.unboundOwned).toBe(true);
    expect(got.cntOwned).toBe(1);
    expect(got.stillBlocked).toBe(true);
  });

  it('a driver_managed_dma driver binds to the owned group without counting, and a user may claim the group while it is bound', () => {
    expect(got.regManaged).toBe(0);
    expect(got.attachManaged).toBe(1);
    expect(got.managedBound).toBe(true);
    expect(got.cntManaged).toBe(1);
    expect(got.blockedManaged).toBe(true);
    expect(got.defaultAfterRelease).toBe(true);
    expect(got.cntReleased).toBe(0);
    expect(got.claimWithManaged).toBe(0);
    expect(got.cntManagedGone).toBe(0);
  });

  it('a failed probe undoes dma_configure: the count is back to 0', () => {
    expect(got.regFailing).toBe(0);
    expect(got.attachFailing).toBe(0);
    expect(got.driverAttachFailing).toBe(-EIO);
    expect(got.cntFailed).toBe(0);
  });

  it('the DMA API driver binds again, counts, blocks a claim and does DMA through the default domain', () => {
    expect(got.reattach).toBe(1);
    expect(got.cntRebound).toBe(1);
    expect(got.claimRebound).toBe(-EPERM);
    expect(got.dma).toBe(0);
    expect(got.defaultRebound).toBe(true);
    expect(oops_count()).toBe(0);
  });
});
